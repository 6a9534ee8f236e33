"""An app on a fresh SQLite store, driven through its ASGI interface with the lifespan running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.config.loader import parse_settings
from bot.http.app import create_app
from bot.runtime import Runtime, build_runtime


def make_runtime(data_dir: Path, **overrides: Any) -> Runtime:
    raw: dict[str, Any] = {
        "data_dir": str(data_dir),
        "workers": {"threads": 1, "poll_interval_seconds": 0.05},
    }
    raw.update(overrides)
    return build_runtime(parse_settings(raw, {}))


@pytest.fixture
def runtime(data_dir: Path) -> Iterator[Runtime]:
    rt = make_runtime(data_dir)
    yield rt
    rt.store.dispose()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        yield test_client
