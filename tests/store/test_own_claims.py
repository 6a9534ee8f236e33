"""What a replica gives back on a clean shutdown (`release_own_claims`), on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.claims import release_own_claims
from bot.store.db import Store
from bot.store.models import Job, Notification, RawEvent, RunbookRun

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
ME = "host-a:100"
OTHER = "host-b:200"
LEASE = T0 + timedelta(minutes=10)


def _event(n: int, holder: str, status: str = "pending") -> RawEvent:
    return RawEvent(
        source="generic",
        idempotency_key=f"k{n}",
        received_at=T0,
        body=b"{}",
        status=status,
        attempts=1,
        claimed_by=holder,
        claimed_until=LEASE,
    )


def _run(n: int, holder: str, in_flight: str = "") -> RunbookRun:
    return RunbookRun(
        runbook_id="test.bump",
        target=f"t{n}",
        status="running",
        created_at=T0,
        updated_at=T0,
        in_flight=in_flight,
        claimed_by=holder,
        claimed_until=LEASE,
    )


def _seed(store: Store) -> None:
    with store.transaction() as session:
        session.add_all(
            [
                _event(1, f"{ME}/w0"),
                _event(2, f"{OTHER}/w0"),
                _event(3, f"{ME}/w1", status="done"),
                Job(
                    kind="report",
                    payload={},
                    run_after=T0,
                    created_at=T0,
                    attempts=1,
                    claimed_by=f"{ME}/w0",
                    claimed_until=LEASE,
                ),
                Notification(
                    key="n1",
                    channel="slack",
                    ref="",
                    sent_at=T0,
                    state="claimed",
                    claimed_by=f"{ME}/abc",
                    claimed_until=LEASE,
                ),
                Notification(key="n2", channel="slack", ref="C 1.1", sent_at=T0, state="sent"),
                _run(1, f"{ME}/w0"),
                _run(2, f"{ME}/w0", in_flight="acting"),
                _run(3, f"{ME}/abandoned"),
            ]
        )


def test_a_clean_shutdown_gives_back_what_nobody_is_working_on(store: Store) -> None:
    _seed(store)
    assert release_own_claims(store, ME) == 4  # event 1, the job, notification n1, run t1
    with store.sessions() as session:
        events = {e.idempotency_key: (e.claimed_by, e.attempts) for e in session.scalars(select(RawEvent))}
        job = session.scalars(select(Job)).one()
        notifications = set(session.scalars(select(Notification.key)))
        runs = {r.target: r.claimed_by for r in session.scalars(select(RunbookRun))}
    assert events == {"k1": (None, 0), "k2": (f"{OTHER}/w0", 1), "k3": (f"{ME}/w1", 1)}
    assert (job.claimed_by, job.attempts) == (None, 0)
    assert notifications == {"n2"}  # the unsent claim is gone, so another replica may send it
    assert runs == {"t1": None, "t2": f"{ME}/w0", "t3": f"{ME}/abandoned"}  # acting: left to reconcile


def test_with_a_worker_still_busy_only_raw_events_are_given_back(store: Store) -> None:
    _seed(store)
    assert release_own_claims(store, ME, raw_events_only=True) == 1
    with store.sessions() as session:
        assert session.scalars(select(Job.claimed_by)).one() == f"{ME}/w0"
        assert set(session.scalars(select(Notification.key))) == {"n1", "n2"}
