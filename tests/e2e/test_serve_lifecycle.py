"""The real process: SIGTERM leaves no half-written state; kill -9 loses nothing acknowledged."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.store.db import Store
from bot.store.models import Alert, RawEvent
from tests.e2e.server import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "var"}"\n[workers]\nthreads = 2\npoll_interval_seconds = 0.05\n'
    )
    return path


@pytest.fixture
def server(config: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(config)
    yield process
    process.stop()


def storm(
    url: str, total: int, clients: int, accepted: list[str], stop: threading.Event
) -> list[threading.Thread]:
    """Each client posts distinct alerts; records fingerprints the server acknowledged."""
    lock = threading.Lock()

    def client(index: int) -> None:
        with httpx.Client(timeout=10) as http:
            for n in range(index, total, clients):
                if stop.is_set():
                    return
                fingerprint = f"fp-{n}"
                body = {
                    "name": f"Alert{n % 7}",
                    "status": "firing",
                    "fingerprint": fingerprint,
                    "resource": {"provider": "aws", "type": "ec2:instance", "id": f"i-{n % 13}"},
                }
                try:
                    response = http.post(f"{url}/webhooks/generic", json=body)
                except httpx.HTTPError:
                    return  # the server went away mid-request: not acknowledged
                if response.status_code == 202:
                    with lock:
                        accepted.append(fingerprint)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    return threads


def wait_for(accepted: list[str], at_least: int, timeout: float = 30.0) -> None:
    """Wait until the storm is under way (progress, not wall-clock)."""
    deadline = time.monotonic() + timeout
    while len(accepted) < at_least and time.monotonic() < deadline:
        time.sleep(0.01)


def stored(data_dir: Path) -> tuple[set[str], int, int]:
    store = Store.connect(f"sqlite:///{data_dir / 'conductor.sqlite3'}")
    try:
        with store.sessions() as session:
            bodies = {b.decode() for b in session.scalars(select(RawEvent.body))}
            pending = session.scalar(
                select(func.count()).select_from(RawEvent).where(RawEvent.status == "pending")
            )
            alerts = session.scalar(select(func.count()).select_from(Alert))
        fingerprints = {b.split('"fingerprint":"')[1].split('"')[0] for b in bodies}
        return fingerprints, int(pending or 0), int(alerts or 0)
    finally:
        store.dispose()


def test_sigterm_finishes_in_flight_work_and_loses_nothing(server: ServerProcess, config: Path) -> None:
    server.start()
    accepted: list[str] = []
    stop = threading.Event()
    threads = storm(server.url, total=400, clients=8, accepted=accepted, stop=stop)
    wait_for(accepted, 50)
    # uvicorn re-raises SIGTERM after its graceful shutdown, so the process ends "by SIGTERM"
    assert server.terminate() in (0, -signal.SIGTERM), server.logs()
    assert "workers stopped" in server.logs() and "clean=True" in server.logs()
    stop.set()
    for t in threads:
        t.join()
    fingerprints, _pending, _alerts = stored(config.parent / "var")
    assert accepted, "the storm should have been acknowledged at least partly"
    assert set(accepted) <= fingerprints  # every 202 is durable
    # restart: whatever was still pending is processed, each exactly once
    restarted = ServerProcess(config).start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and stored(config.parent / "var")[1]:
            time.sleep(0.2)
        fingerprints, pending, alerts = stored(config.parent / "var")
        assert pending == 0
        assert alerts == len(fingerprints)
    finally:
        restarted.stop()


def test_kill_9_mid_storm_then_restart_processes_every_acknowledged_payload_once(
    server: ServerProcess, config: Path
) -> None:
    server.start()
    accepted: list[str] = []
    stop = threading.Event()
    threads = storm(server.url, total=2000, clients=16, accepted=accepted, stop=stop)
    wait_for(accepted, 300)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    assert accepted
    restarted = ServerProcess(config).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stored(config.parent / "var")[1]:
            time.sleep(0.2)
        fingerprints, pending, alerts = stored(config.parent / "var")
    finally:
        restarted.stop()
    assert set(accepted) <= fingerprints
    assert pending == 0
    # exactly once: one alert row per stored delivery, and each delivered exactly once
    assert alerts == len(fingerprints)
    store = Store.connect(f"sqlite:///{config.parent / 'var' / 'conductor.sqlite3'}")
    with store.sessions() as session:
        assert set(session.scalars(select(Alert.deliveries))) == {1}
    store.dispose()
