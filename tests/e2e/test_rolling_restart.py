"""A rolling restart of two real `conductor serve` replicas on one PostgreSQL during a storm.

Each replica in turn gets SIGTERM while webhooks keep coming (sent round-robin, retried on the
other replica when one refuses, as a load balancer does). The stopped replica must turn
unready, answer what it has in flight, give back its claims and the scheduler lease, and exit
within `shutdown_grace_seconds`; the other takes over its leftovers at once (the claim lease is
set far longer than the test, so only the release explains it); nothing acknowledged is lost or
applied twice."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.store.db import Store
from bot.store.models import Alert, Job, Lease, RawEvent
from tests.e2e.server import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]
GRACE = 5.0
CLAIM_LEASE = 600  # seconds: far beyond the test, so leftovers move only because they were released


@pytest.fixture
def replicas(tmp_path: Path, pg_schema_url: str) -> Iterator[list[ServerProcess]]:
    made = []
    for name in ("a", "b"):
        config = tmp_path / f"{name}.toml"
        config.write_text(
            f'data_dir = "{tmp_path / name}"\n'
            f"[server]\nshutdown_grace_seconds = {GRACE}\n"
            f"[workers]\nthreads = 2\npoll_interval_seconds = 0.05\nclaim_timeout_seconds = {CLAIM_LEASE}\n"
            "[scheduler]\nlease_seconds = 600\n"
        )
        made.append(ServerProcess(config, env={"CONDUCTOR_DATABASE_URL": pg_schema_url}))
    yield made
    for process in made:
        process.stop()


class Storm:
    """Clients posting distinct alerts round-robin over the replicas; a refused or failed post is
    sent to the next replica (never lost, may be stored twice: the idempotency key decides)."""

    def __init__(self, replicas: list[ServerProcess], clients: int = 6) -> None:
        self.replicas = replicas
        self.accepted: set[str] = set()
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._counter = itertools.count()
        self._threads = [threading.Thread(target=self._client, args=(i,)) for i in range(clients)]

    def start(self) -> Storm:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _client(self, index: int) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                n = next(self._counter)
                body = {
                    "name": f"Alert{n % 5}",
                    "status": "firing",
                    "fingerprint": f"fp-{n}",
                    "resource": {"provider": "aws", "type": "ec2:instance", "id": f"i-{n % 11}"},
                }
                for attempt in range(len(self.replicas) * 3):
                    replica = self.replicas[(n + attempt) % len(self.replicas)]
                    try:
                        status = http.post(f"{replica.url}/webhooks/generic", json=body).status_code
                    except httpx.HTTPError:
                        continue
                    if status == 202:
                        with self._lock:
                            self.accepted.add(f"fp-{n}")
                        break
                time.sleep(0.002)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.accepted) < count and time.monotonic() < deadline:
            time.sleep(0.02)


def drain(store: Store, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.sessions() as session:
            pending = session.scalar(
                select(func.count()).select_from(RawEvent).where(RawEvent.status == "pending")
            )
        if not pending:
            return
        time.sleep(0.1)
    with store.sessions() as session:
        stuck = session.execute(
            select(
                RawEvent.id, RawEvent.claimed_by, RawEvent.claimed_until, RawEvent.attempts, RawEvent.error
            )
            .where(RawEvent.status == "pending")
            .limit(5)
        ).all()
    raise AssertionError(f"work left pending: {stuck}")


def logs_of(replicas: list[ServerProcess]) -> str:
    return "\n".join(
        line for r in replicas for line in r.logs().splitlines() if "warning" in line or "error" in line
    )[-5000:]


def held_by(store: Store, pid: int) -> int:
    with store.sessions() as session:
        holders = [
            *session.scalars(select(RawEvent.claimed_by).where(RawEvent.status == "pending")),
            *session.scalars(select(Job.claimed_by).where(Job.status == "pending")),
            *session.scalars(select(Lease.holder)),
        ]
    return sum(1 for holder in holders if holder and f":{pid}" in holder)


def sigterm_and_check(stopping: ServerProcess, store: Store) -> None:
    assert stopping.proc is not None
    pid = stopping.proc.pid
    stopping.proc.send_signal(signal.SIGTERM)
    returncode = stopping.proc.wait(timeout=GRACE + 5)  # the grace, plus the interpreter's exit
    assert returncode in (0, -signal.SIGTERM), stopping.logs()
    logs = stopping.logs()
    assert "draining" in logs and "claims released" in logs, logs[-3000:]
    assert held_by(store, pid) == 0


def test_rolling_restart_during_a_storm_loses_nothing(
    replicas: list[ServerProcess], pg_schema_url: str
) -> None:
    a, b = replicas
    a.start()
    b.start()
    store = Store.connect(pg_schema_url)
    storm = Storm(replicas).start()
    try:
        storm.wait_for(150)
        sigterm_and_check(a, store)
        storm.wait_for(len(storm.accepted) + 100)  # b alone carries the storm
        a.start()  # back, then the other one
        storm.wait_for(len(storm.accepted) + 100)
        sigterm_and_check(b, store)
        storm.wait_for(len(storm.accepted) + 100)
        b.start()
        storm.wait_for(len(storm.accepted) + 50)
    finally:
        storm.stop()
    try:
        drain(store)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{logs_of(replicas)}") from exc
    with store.sessions() as session:
        fingerprints = set(session.scalars(select(Alert.fingerprint)))
        deliveries = session.scalar(select(func.sum(Alert.deliveries)))
        events = session.scalar(select(func.count()).select_from(RawEvent))
    store.dispose()
    assert storm.accepted <= fingerprints  # every 202 is stored and applied
    assert deliveries == events  # and applied once per stored delivery
