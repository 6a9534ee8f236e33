"""pytest fixtures for testing runbooks: enable with `pytest_plugins = ["bot.runbook_testing.plugin"]`
in your top-level conftest.py, or `pytest -p bot.runbook_testing.plugin` (what
`conductor runbooks test` does).

- `moto_aws`: a clean moto server for the test, with boto3 (in your runbook and in the test)
  pointed at it through `AWS_ENDPOINT_URL`; `moto_aws.client("sqs")` makes resources to act on.
- `runbook_harness(runbook, **kw)`: a `RunbookHarness` for a runbook id, module path or spec.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.runbook_kit.spec import RunbookSpec
from bot.runbook_testing.harness import RunbookHarness
from bot.runbook_testing.moto import MotoServer

HarnessFactory = Callable[..., RunbookHarness]


@pytest.fixture(scope="session")
def _conductor_moto_session() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def moto_aws(_conductor_moto_session: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """A clean moto server; boto3 finds it through AWS_ENDPOINT_URL."""
    _conductor_moto_session.reset()
    for key, value in _conductor_moto_session.environ().items():
        monkeypatch.setenv(key, value)
    return _conductor_moto_session


@pytest.fixture
def runbook_harness(moto_aws: MotoServer) -> HarnessFactory:
    """`runbook_harness("acme.sqs.raise_visibility_timeout")` or `runbook_harness(Path("my_runbook.py"))`."""

    def make(runbook: str | Path | RunbookSpec[Any], **kwargs: Any) -> RunbookHarness:
        return RunbookHarness(runbook, **kwargs)

    return make
