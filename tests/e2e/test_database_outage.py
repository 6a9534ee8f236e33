"""A real `conductor serve` on PostgreSQL loses its database: connections killed by the server
(`pg_terminate_backend`) are replaced without an error; while the database cannot be reached at
all, webhooks and /readyz answer 503 and the process keeps running; once it is back, everything
goes on and every acknowledged payload is processed once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.store.db import Store
from bot.store.models import Alert, RawEvent
from tests.e2e.server import ServerProcess
from tests.fakes.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]
APP = "conductor-outage-test"
DEADLINE = 60.0


@pytest.fixture
def proxy(pg_schema_url: str) -> Iterator[TcpProxy]:
    url = make_url(pg_schema_url)
    running = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    yield running
    running.stop()


@pytest.fixture
def server(tmp_path: Path, pg_schema_url: str, proxy: TcpProxy) -> Iterator[ServerProcess]:
    url = make_url(pg_schema_url)
    proxied = url.set(port=proxy.port).update_query_dict({"application_name": APP})
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "var"}"\n'
        "[workers]\nthreads = 2\npoll_interval_seconds = 0.05\n"
        "[database]\nconnect_timeout_seconds = 2\npool_timeout_seconds = 5\n"
    )
    env = {"CONDUCTOR_DATABASE_URL": proxied.render_as_string(hide_password=False)}
    process = ServerProcess(config, env=env)
    yield process
    process.stop()


def post(http: httpx.Client, base: str, n: int) -> int:
    body = {
        "name": "DiskFull",
        "status": "firing",
        "fingerprint": f"fp-{n}",
        "resource": {"provider": "aws", "type": "ec2:instance", "id": f"i-{n}"},
    }
    return http.post(f"{base}/webhooks/generic", json=body).status_code


def until(check: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_lost_database_gives_503_then_recovers(
    pg_schema_url: str, proxy: TcpProxy, server: ServerProcess
) -> None:
    server.start()
    accepted: list[int] = []
    with httpx.Client(timeout=30) as http:
        assert post(http, server.url, 0) == 202
        accepted.append(0)

        # 1. The server drops every connection of the replica (a failover does the same).
        store = Store.connect(pg_schema_url)
        with store.engine.begin() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :a"
                ),
                {"a": APP},
            ).scalar()
        assert killed, "the replica should have had connections open"
        for n in range(1, 6):  # replaced at checkout: no request notices
            assert post(http, server.url, n) == 202
            accepted.append(n)

        # 2. The database cannot be reached at all.
        proxy.cut()
        assert post(http, server.url, 100) == 503
        assert http.get(f"{server.url}/readyz").status_code == 503
        assert http.get(f"{server.url}/healthz").status_code == 200  # alive: not restarted for this
        assert server.proc is not None and server.proc.poll() is None

        # 3. It is back: webhooks are acknowledged again, readiness returns.
        proxy.restore()
        until(lambda: post(http, server.url, 6) == 202, "webhooks accepted again")
        accepted.append(6)
        until(lambda: http.get(f"{server.url}/readyz").status_code == 200, "ready again")

    def processed() -> bool:
        with store.sessions() as session:
            pending = session.scalar(
                select(func.count()).select_from(RawEvent).where(RawEvent.status == "pending")
            )
        return pending == 0

    until(processed, "every acknowledged payload processed")
    with store.sessions() as session:
        fingerprints = set(session.scalars(select(Alert.fingerprint)))
        events = session.scalar(select(func.count()).select_from(RawEvent))
    store.dispose()
    assert {f"fp-{n}" for n in accepted} <= fingerprints
    assert "fp-100" not in fingerprints  # the 503 stored nothing
    assert events == len(set(accepted))
    assert server.proc is not None and server.proc.poll() is None
