"""The notification log claims a message in the database before it is sent: of several workers
(threads here, replicas in production) exactly one sends it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from bot.claims import release_dead_claims
from bot.errors import NotificationInFlight
from bot.reporting.base import NotificationLog
from bot.store.db import Store
from bot.store.models import Notification

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
KEY = "slack:incident:7:parent"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Sender:
    """Counts sends; `block()` makes the next send wait until `release()`."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.sends = 0
        self.started = threading.Event()
        self.gate: threading.Event | None = None

    def block(self) -> None:
        self.gate = threading.Event()

    def release(self) -> None:
        assert self.gate is not None
        self.gate.set()

    def __call__(self) -> str:
        self.sends += 1
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(30)
        return self.ref


def in_thread(log: NotificationLog, send: Sender, out: list[str]) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.append(log.once(KEY, send, channel="slack", incident_id=7)))
    thread.start()
    assert send.started.wait(30)
    return thread


def rows(store: Store) -> list[Notification]:
    with store.sessions() as session:
        return list(session.scalars(select(Notification).where(Notification.key == KEY)))


def test_while_one_worker_sends_another_waits_and_then_gets_its_ref(store: Store) -> None:
    clock = Clock()
    first, second = NotificationLog(store, clock), NotificationLog(store, clock)  # two replicas
    send_a, send_b = Sender("C1 111.1"), Sender("C1 222.2")
    send_a.block()
    out: list[str] = []
    thread = in_thread(first, send_a, out)
    with pytest.raises(NotificationInFlight) as deferred:
        second.once(KEY, send_b, channel="slack", incident_id=7)
    assert deferred.value.until <= T0 + timedelta(seconds=1)  # looked at again soon, not in a minute
    assert second.sent(KEY) is None  # claimed is not sent
    send_a.release()
    thread.join(30)
    assert out == ["C1 111.1"]
    assert second.once(KEY, send_b, channel="slack", incident_id=7) == "C1 111.1"
    assert (send_a.sends, send_b.sends) == (1, 0)
    [row] = rows(store)
    assert (row.state, row.ref, row.claimed_by, row.claimed_until) == ("sent", "C1 111.1", None, None)


def test_a_failed_send_gives_the_claim_back(store: Store) -> None:
    log = NotificationLog(store, Clock())

    def broken() -> str:
        raise RuntimeError("slack said no")

    with pytest.raises(RuntimeError):
        log.once(KEY, broken, channel="slack")
    assert rows(store) == []
    send = Sender("C1 333.3")
    assert log.once(KEY, send, channel="slack") == "C1 333.3" and send.sends == 1


def test_a_claim_whose_sender_died_is_taken_over_after_it_runs_out(store: Store) -> None:
    clock = Clock()
    dying, survivor = NotificationLog(store, clock, claim_seconds=60), NotificationLog(store, clock)
    stuck = Sender("never")
    stuck.block()
    thread = in_thread(dying, stuck, [])
    clock.now = T0 + timedelta(seconds=59)
    with pytest.raises(NotificationInFlight):
        survivor.once(KEY, Sender("too early"), channel="slack")
    clock.now = T0 + timedelta(seconds=61)
    send = Sender("C1 444.4")
    assert survivor.once(KEY, send, channel="slack") == "C1 444.4" and send.sends == 1
    stuck.release()  # the "dead" sender wakes up: its late result does not overwrite the log
    thread.join(30)
    assert survivor.sent(KEY) == "C1 444.4"


def test_a_claim_of_a_dead_process_on_this_host_is_released_at_start(store: Store) -> None:
    import socket

    clock = Clock()
    with store.transaction() as session:
        session.add(
            Notification(
                key=KEY,
                channel="slack",
                ref="",
                sent_at=T0,
                state="claimed",
                claimed_by=f"{socket.gethostname()}:999999999/abc",  # no such pid
                claimed_until=T0 + timedelta(minutes=5),
            )
        )
    assert release_dead_claims(store) == 1
    send = Sender("C1 555.5")
    assert NotificationLog(store, clock).once(KEY, send, channel="slack") == "C1 555.5"


def abandoned_claim(store: Store) -> None:
    """A claim as a SIGKILLed sender leaves it (released at start: no holder, no deadline)."""
    with store.transaction() as session:
        session.add(
            Notification(
                key=KEY,
                channel="slack",
                ref="",
                sent_at=T0,
                state="claimed",
                claimed_by=None,
                claimed_until=None,
            )
        )


def test_taking_over_a_dead_senders_claim_first_asks_find_from_when_it_was_claimed(store: Store) -> None:
    abandoned_claim(store)
    clock = Clock()
    clock.now = T0 + timedelta(minutes=3)
    asked: list[datetime] = []

    def find(claimed_at: datetime) -> str | None:
        asked.append(claimed_at)
        return "C1 666.6"  # the dead sender's message got out

    send = Sender("C1 777.7")
    sent = NotificationLog(store, clock).send_once(KEY, send, channel="slack", find=find)
    assert (sent.ref, sent.now, send.sends) == ("C1 666.6", False, 0)
    assert asked == [T0]
    [row] = rows(store)
    assert (row.state, row.ref, row.claimed_by) == ("sent", "C1 666.6", None)


def test_find_is_not_asked_for_a_fresh_claim_and_nothing_found_means_send(store: Store) -> None:
    asked: list[datetime] = []

    def find(claimed_at: datetime) -> str | None:
        asked.append(claimed_at)
        return None

    log = NotificationLog(store, Clock())
    assert log.once(KEY, Sender("C1 111.1"), channel="slack", find=find) == "C1 111.1"
    assert asked == []  # nobody held it before: nothing to look for
    with store.transaction() as session:
        session.execute(delete(Notification))
    abandoned_claim(store)
    send = Sender("C1 222.2")
    assert log.once(KEY, send, channel="slack", find=find) == "C1 222.2"
    assert asked == [T0] and send.sends == 1


def test_a_failed_find_leaves_the_claim_abandoned_so_the_retry_looks_again(store: Store) -> None:
    abandoned_claim(store)
    log = NotificationLog(store, Clock())

    def unreachable(claimed_at: datetime) -> str | None:
        raise RuntimeError("slack rate limited")

    with pytest.raises(RuntimeError):
        log.once(KEY, Sender("never"), channel="slack", find=unreachable)
    [row] = rows(store)
    assert (row.state, row.claimed_by, row.claimed_until, row.sent_at) == ("claimed", None, None, T0)
    send = Sender("unused")
    assert log.once(KEY, send, channel="slack", find=lambda claimed_at: "C1 888.8") == "C1 888.8"
    assert send.sends == 0
