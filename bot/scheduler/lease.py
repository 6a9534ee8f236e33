"""A named lease in the store: at most one holder at a time, until it expires or is released.

The scheduler's replicas each keep trying to hold the lease named "scheduler"; the one that holds
it is the leader and the only one whose sweep jobs run. The holder renews well before expiry; if it
dies, the lease expires and another replica takes it over on its next attempt.

Acquire and renew are one atomic step: insert the row if it is absent (ON CONFLICT DO NOTHING),
else a conditional `UPDATE ... WHERE holder = me OR expires_at < now`. Whoever's statement updates
the row holds the lease; PostgreSQL's row lock and SQLite's write lock decide any race.
Expiry compares times from the replicas' clocks: keep them in sync (NTP) to well within the lease.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.clock import Clock, utc_now
from bot.logs import get_logger
from bot.store.db import Store
from bot.store.models import Lease

log = get_logger(__name__)

ACQUIRED = "scheduler.leader_acquired"
LOST = "scheduler.leader_lost"


@dataclass(frozen=True, slots=True)
class LeaseState:
    """The stored lease as last read: who holds it and until when."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return now < self.expires_at


def read_lease(session: Session, name: str) -> LeaseState | None:
    row = session.get(Lease, name)
    if row is None:
        return None
    return LeaseState(row.name, row.holder, row.acquired_at, row.expires_at)


class LeaseKeeper:
    """Holds (or keeps trying to hold) one named lease for `holder`; audits every change of hands.

    `acquire` both takes a free or expired lease and renews one already held. `is_leader(now)` answers
    from what this process last wrote, without a round trip: the lease is ours until the expiry we set.
    """

    def __init__(
        self,
        store: Store,
        *,
        holder: str,
        ttl: timedelta | float,
        name: str = "scheduler",
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.name = name
        self.holder = holder
        self.ttl = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
        if self.ttl <= timedelta(0):
            raise ValueError("the lease must last a positive time")
        self._clock = clock
        self._lock = threading.Lock()
        self._expires_at: datetime | None = None  # set while we believe we hold it

    @property
    def expires_at(self) -> datetime | None:
        return self._expires_at

    def is_leader(self, now: datetime | None = None) -> bool:
        expires = self._expires_at
        return expires is not None and (now or self._clock()) < expires

    def acquire(self, now: datetime | None = None) -> bool:
        """Take the lease if it is free, expired or already ours (renewing it). True when held."""
        at = now or self._clock()
        with self._lock, self.store.transaction() as session:
            previous = self._take(session, at)
            held = previous is not False
            was_leader = self._expires_at is not None  # we believed we held it, maybe lapsed
            if held:
                if not was_leader:
                    prior = previous if isinstance(previous, LeaseState) else None
                    self._audit(session, at, ACQUIRED, prior, reason="free" if prior is None else "expired")
                self._expires_at = at + self.ttl
            elif was_leader:
                current = read_lease(session, self.name)
                self._audit(session, at, LOST, current, reason="taken over")
                self._expires_at = None
        if held and not was_leader:
            log.info("scheduler lease acquired", lease=self.name, holder=self.holder)
        if not held and was_leader:
            log.warning("scheduler lease lost", lease=self.name, holder=self.holder)
        return held

    def renew(self, now: datetime | None = None) -> bool:
        """Extend the lease we hold; same as `acquire` (a lapsed lease nobody took is taken back)."""
        return self.acquire(now)

    def release(self, now: datetime | None = None) -> bool:
        """Give the lease up (clean shutdown) so another replica need not wait for expiry."""
        at = now or self._clock()
        with self._lock, self.store.transaction() as session:
            result = session.execute(
                delete(Lease).where(Lease.name == self.name, Lease.holder == self.holder)
            )
            released = bool(getattr(result, "rowcount", 0))
            if released:
                self._audit(session, at, LOST, None, reason="released")
            self._expires_at = None
        if released:
            log.info("scheduler lease released", lease=self.name, holder=self.holder)
        return released

    def current(self) -> LeaseState | None:
        with self.store.sessions() as session:
            return read_lease(session, self.name)

    # ------------------------------------------------------------------ plumbing

    def _take(self, session: Session, now: datetime) -> LeaseState | bool | None:
        """Insert or conditionally update. Returns False when another holder has a live lease,
        else the state it replaced (None when the row was absent or already ours)."""
        expires = now + self.ttl
        insert = sqlite_insert if self.store.is_sqlite else pg_insert
        inserted = session.execute(
            insert(Lease)
            .values(name=self.name, holder=self.holder, acquired_at=now, expires_at=expires)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(Lease.name)
        ).scalar()
        if inserted is not None:
            return None
        # Lock the row (PostgreSQL) so the state we report as replaced is the one we replace.
        row = session.execute(
            select(Lease.holder, Lease.acquired_at, Lease.expires_at)
            .where(Lease.name == self.name)
            .with_for_update()
        ).one_or_none()
        before = LeaseState(self.name, row.holder, row.acquired_at, row.expires_at) if row else None
        result = session.execute(
            update(Lease)
            .where(Lease.name == self.name, or_(Lease.holder == self.holder, Lease.expires_at < now))
            .values(
                holder=self.holder,
                acquired_at=case((Lease.holder == self.holder, Lease.acquired_at), else_=now),
                expires_at=expires,
            )
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            return False
        if before is not None and before.holder == self.holder:
            return None
        return before

    def _audit(
        self, session: Session, at: datetime, action: str, other: LeaseState | None, *, reason: str
    ) -> None:
        details: dict[str, object] = {"lease": self.name, "holder": self.holder, "reason": reason}
        if other is not None and other.holder != self.holder:
            key = "previous_holder" if action == ACQUIRED else "new_holder"
            details[key] = other.holder
            details[f"{key.split('_')[0]}_expires_at"] = other.expires_at.isoformat()
        audit(session, at=at, actor=self.holder, subject=f"lease:{self.name}", action=action, details=details)
