"""Fixtures shared by the whole suite. Fakes are started once per session and reset per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bot.store.db import Store
from tests.fakes.moto_server import AWS_TEST_ENV, MotoServer
from tests.fakes.tls import TestTLS, make_tls


@pytest.fixture(autouse=True)
def _structlog_config_restored() -> Iterator[None]:
    """A test that runs the CLI in process configures logging for a CLI process (loggers cached on
    first use); later tests' `capture_logs` then missed the lines of loggers first used meanwhile.
    Each test starts from the configuration the one before it started from."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(scope="session")
def test_tls(tmp_path_factory: pytest.TempPathFactory) -> TestTLS:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def moto_session() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_session: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """A clean moto server; boto3 in the code under test finds it through AWS_ENDPOINT_URL."""
    moto_session.reset()
    for key, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_session.url)
    return moto_session


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from tests.stores import postgres_schema, require_postgres

    require_postgres()
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    from bot.store import migrate
    from bot.store.db import Store
    from tests.stores import truncate_all

    if request.param == "sqlite":
        store = Store.connect(f"sqlite:///{tmp_path / 'conductor.sqlite3'}")
        migrate.upgrade(store)
    else:
        store = Store.connect(request.getfixturevalue("postgres_url"))
        truncate_all(store)
    yield store
    store.dispose()
