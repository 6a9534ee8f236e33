"""The intake process: reading its Pipe in batches, its check and commit stages, and the HTTP
process's handling of it dying (503s, never a lost acknowledgement, a replacement started)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import time
from multiprocessing import Pipe
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.clock import utc_now
from bot.config.loader import parse_settings
from bot.http.app import create_app
from bot.ingest.intake import build_intake
from bot.ingest.intake_child import RequestReader, Writer, check_batch, commit_batch
from bot.ingest.intake_process import ProcessIntake
from bot.ingest.wire import Accepted, IntakeReply, IntakeRequest, Ready, Refused
from bot.store import migrate
from bot.store.db import Store
from bot.store.models import DeadLetter, RawEvent
from tests.http.conftest import make_runtime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
GROUP = (FIXTURES / "alertmanager__mixed_group_k8s_replica_a.json").read_bytes()
OTHER_REPLICA = (FIXTURES / "alertmanager__mixed_group_k8s_replica_b.json").read_bytes()
JSON = {"content-type": "application/json"}


def request(seq: int, body: bytes, source: str = "alertmanager") -> IntakeRequest:
    return IntakeRequest(seq, source, body, dict(JSON), f"req-{seq}")


def count(store: Store, model: type) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_reader_takes_what_has_arrived_in_batches_and_stops_at_eof() -> None:
    ours, theirs = Pipe(duplex=True)
    with ours:
        reader = RequestReader(ours)
        for seq in (1, 2, 3):
            theirs.send(request(seq, b"x"))
        theirs.send(Ready(0))  # not a request: skipped
        assert [r.seq for r in reader.next_batch(limit=10, wait=0)] == [1, 2, 3]
        theirs.send(request(4, b"d"))
        theirs.send(request(5, b"e"))
        assert [r.seq for r in reader.next_batch(limit=1, wait=0)] == [4]  # at most `limit`
        assert [r.seq for r in reader.next_batch(limit=1, wait=0)] == [5]
        theirs.send(request(6, b"f"))
        theirs.close()
        assert [r.seq for r in reader.next_batch(limit=10, wait=0.5)] == [6]  # the end cuts the wait
        assert reader.next_batch(limit=10, wait=0) is None


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.connect(f"sqlite:///{tmp_path / 'intake.sqlite3'}")
    migrate.upgrade(store)
    return store


def test_check_then_commit_answers_every_request(store: Store, tmp_path: Path) -> None:
    intake = build_intake(parse_settings({"data_dir": str(tmp_path)}, {}), store, utc_now)
    batch = [
        request(1, GROUP),
        request(2, b'{"alerts": [{"status": "maybe"}]}'),
        request(3, OTHER_REPLICA),  # the same group from the second Alertmanager
        request(4, GROUP, source="nope"),
    ]
    refused, prepared = check_batch(intake, batch)
    assert {r.seq: r.answer for r in refused} == {
        2: Refused("malformed", "alerts[0].status: expected firing or resolved, got 'maybe'"),
        4: Refused("unknown_source", refused[1].answer.message),
    }
    assert count(store, DeadLetter) == 1  # the malformed body is kept; the unknown source is not
    answers = {r.seq: r.answer for r in commit_batch(store, prepared)}
    first, second = answers[1], answers[3]
    assert isinstance(first, Accepted) and isinstance(second, Accepted)
    assert not first.outcome.duplicate and second.outcome.duplicate
    assert first.alert_count == len(json.loads(GROUP)["alerts"]) and first.kind == "alerts"
    assert count(store, RawEvent) == 1


def test_a_store_that_fails_answers_the_whole_batch_unavailable(tmp_path: Path) -> None:
    settings = parse_settings({"data_dir": str(tmp_path)}, {})
    unmigrated = Store.connect(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no tables
    _refused, prepared = check_batch(build_intake(settings, unmigrated, utc_now), [request(1, GROUP)])
    [reply] = commit_batch(unmigrated, prepared)
    assert isinstance(reply.answer, Refused) and reply.answer.error == "store_unavailable"


def test_writer_commits_what_is_queued_and_answers_after_the_commit(store: Store, tmp_path: Path) -> None:
    intake = build_intake(parse_settings({"data_dir": str(tmp_path)}, {}), store, utc_now)
    sent: list[IntakeReply] = []

    def send(replies: object) -> None:
        assert count(store, RawEvent) >= 1  # committed before anyone hears of it
        sent.extend(replies)  # type: ignore[call-overload]

    writer = Writer(store, send, batch_max=256)
    writer.start()
    writer.put(check_batch(intake, [request(1, GROUP)])[1])
    writer.put(check_batch(intake, [request(2, OTHER_REPLICA)])[1])
    writer.stop()
    assert sorted(r.seq for r in sent) == [1, 2]
    assert count(store, RawEvent) == 1


def test_killed_intake_process_gets_503s_then_a_replacement(data_dir: Path) -> None:
    runtime = make_runtime(data_dir, ingest={"intake": "process"})
    assert isinstance(runtime.intake, ProcessIntake)
    with TestClient(create_app(runtime)) as client:
        assert client.post("/webhooks/alertmanager", content=GROUP, headers=JSON).status_code == 202
        old_pid = runtime.intake.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        noticed = time.monotonic() + 5
        while runtime.intake.ready() is None and time.monotonic() < noticed:
            time.sleep(0.005)
        assert runtime.intake.ready() == "the intake process is not running"
        statuses: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = json.dumps({"id": f"d{len(statuses)}", "name": "DiskFull", "status": "firing"}).encode()
            response = client.post("/webhooks/generic", content=body, headers=JSON)
            statuses.append(response.status_code)
            if response.status_code == 202:
                break
            assert response.status_code == 503
            time.sleep(0.05)
        assert statuses[-1] == 202
        assert client.get("/readyz").json()["intake"] == "ok"
        assert runtime.intake.restarts == 1 and runtime.intake.pid not in (None, old_pid)
        # Every 202 is stored; every 503 left nothing behind.
        assert count(runtime.store, RawEvent) == 2
        new_pid = runtime.intake.pid
    assert new_pid is not None
    with pytest.raises(ProcessLookupError):  # stopped with the app
        os.kill(new_pid, 0)
    runtime.store.dispose()


def test_a_replacement_that_fails_to_start_is_tried_again(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.ingest import intake_process

    runtime = make_runtime(data_dir, ingest={"intake": "process"})
    assert isinstance(runtime.intake, ProcessIntake)
    real_spawn = intake_process._spawn
    attempts: list[float] = []

    def flaky_spawn(settings: object) -> object:
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            raise intake_process.IntakeStartFailed("the store is not there yet")
        return real_spawn(settings)  # type: ignore[arg-type]

    with TestClient(create_app(runtime)) as client:
        monkeypatch.setattr(intake_process, "_spawn", flaky_spawn)
        pid = runtime.intake.pid
        assert pid is not None and pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while runtime.intake.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runtime.intake.restarts == 1 and len(attempts) == 3
        assert attempts[2] - attempts[1] >= 2 * (attempts[1] - attempts[0]) * 0.9  # backing off
        assert client.post("/webhooks/alertmanager", content=GROUP, headers=JSON).status_code == 202
    runtime.store.dispose()


def test_a_request_that_cannot_be_sent_is_answered_unavailable() -> None:
    """The sender thread's write fails (the intake's end is gone): the waiting request gets the
    refusal that becomes a 503, on the event loop, and nothing else is left waiting."""
    from bot.ingest import intake_process

    async def scenario() -> Refused | Accepted:
        ours, theirs = Pipe(duplex=True)
        theirs.close()
        connection = intake_process._Connection(multiprocessing.current_process(), ours)
        connection.loop = asyncio.get_running_loop()
        future: asyncio.Future[Accepted | Refused] = connection.loop.create_future()
        connection.pending[7] = future
        connection.outbox.put(request(7, GROUP))
        connection.outbox.put(None)
        sender = intake_process._thread(intake_process._send_requests, connection, "test-send")
        answer = await asyncio.wait_for(future, 5)
        sender.join(5)
        ours.close()
        assert not connection.pending and not sender.is_alive()
        return answer

    answer = asyncio.run(scenario())
    assert isinstance(answer, Refused) and answer.error == "intake_unavailable"
