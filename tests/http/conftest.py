"""An app on a fresh SQLite store, driven through its ASGI interface with the lifespan running."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

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


def metric_value(runtime: Runtime, name: str, timeout: float = 5.0, **labels: str) -> float:
    """One sample of what GET /metrics serves (the runtime's registry in Prometheus text), once it
    is there (workers count right after their commit); 0 when it never shows up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = generate_latest(runtime.metrics.registry).decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        time.sleep(0.02)
    return 0.0
