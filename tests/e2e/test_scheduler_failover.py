"""Two real `conductor serve` processes on one PostgreSQL schema: one scheduler is active, each tick
of a 1 s sweep runs once, and when the leader is killed (-9) the other takes over within the lease."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from bot.store.db import Store
from bot.store.models import AuditRecord, Lease, SweepRun
from tests.e2e.server import ServerProcess
from tests.fakes.moto_server import AWS_TEST_ENV, MotoServer
from tests.stores import postgres_schema, require_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

LEASE_SECONDS = 2.0
RENEW_SECONDS = 0.5
CONFIG = f"""
data_dir = "DATA_DIR"

[workers]
threads = 1

[scheduler]
lease_seconds = {LEASE_SECONDS}
renew_every_seconds = {RENEW_SECONDS}

[[sweeps]]
name = "tick"
kind = "budget"
account_id = "123456789012"
schedule = {{ interval_seconds = 1 }}
"""
T = TypeVar("T")


def wait_for(read: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    require_postgres()
    with postgres_schema() as url:
        yield url


def test_one_scheduler_runs_each_tick_once_and_fails_over(
    moto: MotoServer, pg_url: str, tmp_path: Path
) -> None:
    env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": moto.url, "CONDUCTOR_DATABASE_URL": pg_url}
    servers = []
    for name in ("a", "b"):
        config = tmp_path / f"{name}.toml"
        config.write_text(CONFIG.replace("DATA_DIR", str(tmp_path / f"var-{name}")))
        servers.append(ServerProcess(config, env=env))
    store = Store.connect(pg_url)

    def holder() -> str | None:
        with store.sessions() as session:
            lease = session.get(Lease, "scheduler")
            return lease.holder if lease is not None else None

    def ticks() -> list[tuple[datetime, str]]:
        with store.sessions() as session:
            return [(r.tick, r.holder) for r in session.scalars(select(SweepRun).order_by(SweepRun.tick))]

    try:
        started = time.monotonic()
        for server in servers:  # one after the other: starting is CPU-bound (imports), cores are few
            server.start(timeout=60)
        pids = {f":{s.proc.pid}": s for s in servers if s.proc is not None and s.proc.poll() is None}
        assert len(pids) == 2, [s.logs() for s in servers]
        leader = wait_for(holder, 10, "a leader")
        first = next(s for suffix, s in pids.items() if leader.endswith(suffix))
        second = next(s for s in servers if s is not first)
        assert second.proc is not None
        wait_for(lambda: len(ticks()) >= 3, 15, "three ticks")
        before = ticks()
        time.sleep(1.2)  # both replicas scheduling side by side
        during = ticks()
        print(f"both up and three ticks run after {time.monotonic() - started:.1f}s")

        # One scheduler is active: only the leader ran ticks, each tick once, about every second (a tick
        # that comes while the previous run is still going is skipped: max_instances=1 - under load,
        # the first run, which builds the AWS clients, can take longer than a second).
        assert {h for _, h in during} == {leader}
        stamps = [t for t, _ in during]
        assert len(stamps) == len(set(stamps)) > len(before)
        assert all((t - stamps[0]) % timedelta(seconds=1) == timedelta(0) for t in stamps)
        span = int((stamps[-1] - stamps[0]).total_seconds()) + 1
        assert len(stamps) >= 0.75 * span, stamps

        first.kill()  # SIGKILL: no release, the lease must expire
        killed_at = time.monotonic()

        def other_holder() -> str | None:
            current = holder()
            return current if current != leader else None

        new_leader = wait_for(other_holder, 10, "a new leader")
        takeover = time.monotonic() - killed_at
        assert new_leader.endswith(f":{second.proc.pid}")
        assert takeover <= LEASE_SECONDS + RENEW_SECONDS + 1.0, takeover  # expiry + one heartbeat
        wait_for(lambda: sum(1 for _, h in ticks() if h == new_leader) >= 2, 10, "ticks by the new leader")

        after = ticks()
        stamps = [t for t, _ in after]
        assert len(stamps) == len(set(stamps))  # no tick ran twice, across the handover either
        handover = [t for t, h in after if h == new_leader]
        assert min(handover) > max(t for t, h in after if h == leader)
        print(f"takeover after kill -9: {takeover:.2f}s (lease {LEASE_SECONDS}s, renew {RENEW_SECONDS}s)")

        assert second.terminate(timeout=30) in (0, -signal.SIGTERM), second.logs()
        assert holder() is None  # a clean shutdown releases the lease
        with store.sessions() as session:
            audits = session.scalars(
                select(AuditRecord).where(AuditRecord.subject == "lease:scheduler").order_by(AuditRecord.id)
            ).all()
        assert [(a.action, a.actor, a.details["reason"]) for a in audits] == [
            ("scheduler.leader_acquired", leader, "free"),
            ("scheduler.leader_acquired", new_leader, "expired"),
            ("scheduler.leader_lost", new_leader, "released"),
        ]
        assert audits[1].details["previous_holder"] == leader
    finally:
        for server in servers:
            server.stop()
        store.dispose()
