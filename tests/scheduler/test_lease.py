"""The scheduler lease on SQLite and PostgreSQL: acquire, renew, take over after expiry, release."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.scheduler.lease import ACQUIRED, LOST, LeaseKeeper
from bot.store.db import Store
from bot.store.models import AuditRecord

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


def keeper(store: Store, holder: str) -> LeaseKeeper:
    return LeaseKeeper(store, holder=holder, ttl=TTL, clock=lambda: T0)


def audits(store: Store) -> list[tuple[str, str, dict[str, object]]]:
    with store.sessions() as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.subject == "lease:scheduler"))
        return [(r.action, r.actor, dict(r.details)) for r in rows]


def test_acquire_a_free_lease_and_renew_it(store: Store) -> None:
    a = keeper(store, "host-a:1")

    assert a.acquire(T0)
    assert a.is_leader(T0) and a.is_leader(T0 + TTL - timedelta(microseconds=1))
    assert not a.is_leader(T0 + TTL)  # our own knowledge expires with the lease
    assert a.renew(T0 + timedelta(seconds=10))
    assert a.is_leader(T0 + timedelta(seconds=39))
    state = a.current()
    assert state is not None
    assert (state.holder, state.acquired_at, state.expires_at) == ("host-a:1", T0, T0 + timedelta(seconds=40))
    assert audits(store) == [
        (ACQUIRED, "host-a:1", {"lease": "scheduler", "holder": "host-a:1", "reason": "free"})
    ]


def test_a_live_lease_is_not_taken_an_expired_one_is(store: Store) -> None:
    a, b = keeper(store, "host-a:1"), keeper(store, "host-b:2")
    assert a.acquire(T0)

    assert not b.acquire(T0 + timedelta(seconds=29))
    assert not b.is_leader(T0 + timedelta(seconds=29))
    assert b.acquire(T0 + timedelta(seconds=31))  # a stopped renewing: expired at T0+30
    assert b.is_leader(T0 + timedelta(seconds=31))

    assert not a.renew(T0 + timedelta(seconds=32))  # a comes back: it lost the lease
    assert not a.is_leader(T0 + timedelta(seconds=32))
    actions = audits(store)
    assert [(action, actor) for action, actor, _ in actions] == [
        (ACQUIRED, "host-a:1"),
        (ACQUIRED, "host-b:2"),
        (LOST, "host-a:1"),
    ]
    assert actions[1][2]["previous_holder"] == "host-a:1" and actions[1][2]["reason"] == "expired"
    assert actions[2][2]["new_holder"] == "host-b:2" and actions[2][2]["reason"] == "taken over"


def test_release_hands_over_at_once(store: Store) -> None:
    a, b = keeper(store, "host-a:1"), keeper(store, "host-b:2")
    assert a.acquire(T0)

    assert a.release(T0 + timedelta(seconds=1))
    assert not a.is_leader(T0 + timedelta(seconds=1))
    assert b.acquire(T0 + timedelta(seconds=1))  # no need to wait for the expiry
    assert not a.release(T0 + timedelta(seconds=2))  # a holds nothing: nothing to release
    assert b.is_leader(T0 + timedelta(seconds=2))
    released = [(action, actor) for action, actor, d in audits(store) if d.get("reason") == "released"]
    assert released == [(LOST, "host-a:1")]


def test_concurrent_acquires_have_one_winner(store: Store) -> None:
    keepers = [keeper(store, f"host-{i}:{i}") for i in range(6)]
    for round_ in range(3):
        at = T0 + timedelta(minutes=round_)  # each round starts after the last lease expired
        won: list[str] = []
        barrier = threading.Barrier(len(keepers))

        def attempt(
            k: LeaseKeeper, at: datetime = at, won: list[str] = won, barrier: threading.Barrier = barrier
        ) -> None:
            barrier.wait()
            if k.acquire(at):
                won.append(k.holder)

        threads = [threading.Thread(target=attempt, args=(k,)) for k in keepers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(won) == 1, won
