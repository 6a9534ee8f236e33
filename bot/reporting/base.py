"""What a reporter is, and the notification log that keeps retried jobs from sending twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.claims import worker_name
from bot.errors import NotificationInFlight
from bot.store.db import Store
from bot.store.models import Notification


class Reporter(Protocol):
    """Renders findings for one outside system. Each method must be safe to call twice."""

    name: str

    def incident_changed(self, incident_id: int, event: str) -> None:
        """event: opened | reopened | updated | acknowledged | resolved | decided"""

    def run_changed(self, run_id: int, event: str) -> None:
        """event: a run status (approved, running, succeeded, ...), approval_vote, noop, rolled_back"""

    def escalated(self, *, run_id: int | None, incident_id: int | None, reason: str) -> None:
        """A human must look now."""


CLAIM_SECONDS = 60.0  # how long a sender may take before another may send in its place
RECHECK = timedelta(seconds=1)  # a job that found a message in flight looks again this soon

# Before sending in a dead sender's place: the ref of the message it got out after all (looked
# up in the outside system from the time the key was first claimed), or None to send.
Find = Callable[[datetime], str | None]


@dataclass(frozen=True, slots=True)
class _Claimed:
    """This call holds the key; `abandoned_at` is when a dead sender first claimed it (if any)."""

    abandoned_at: datetime | None


@dataclass(frozen=True, slots=True)
class Sent:
    """The outcome of `NotificationLog.send_once`: the ref, and whether this call sent it."""

    ref: str
    now: bool


class NotificationLog:
    """`once(key, send)` sends only if `key` was never sent; the ref (ts, ticket key) is kept.

    The key is claimed in the database before `send` runs (a unique row in state `claimed`), so of
    several workers, on any replica, exactly one sends; the others get the ref once it is sent, or
    `NotificationInFlight` (the job is deferred, not failed) while it is being sent. A claim whose
    sender died is taken over after `claim_seconds` (a restart on the same host releases it at
    once, see `bot.claims`). A sender may die after the outside system accepted the message but
    before the ref was written: so before sending in its place, `send_once` calls the caller's
    `find` (Slack: a message whose metadata carries the key), and only sends if nothing is found.
    Without `find`, such a death can repeat one message, never lose one.
    """

    def __init__(
        self, store: Store, clock: Callable[[], datetime], *, claim_seconds: float = CLAIM_SECONDS
    ) -> None:
        self._store = store
        self._clock = clock
        self._claim_for = timedelta(seconds=claim_seconds)

    def _insert(self) -> Any:
        return sqlite_insert(Notification) if self._store.is_sqlite else pg_insert(Notification)

    def sent(self, key: str) -> str | None:
        with self._store.sessions() as session:
            row = session.execute(
                select(Notification.ref).where(Notification.key == key, Notification.state == "sent")
            ).first()
            return None if row is None else str(row.ref)

    def record(self, key: str, *, channel: str, ref: str = "", incident_id: int | None = None) -> bool:
        """Note that `key` was sent (no claim); True if this call recorded it (False: someone
        already had)."""
        with self._store.transaction() as session:
            result = session.execute(
                self._insert()
                .values(
                    key=key,
                    channel=channel,
                    ref=ref,
                    incident_id=incident_id,
                    sent_at=self._clock(),
                    state="sent",
                )
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(Notification.id)
            )
            return result.first() is not None  # (rowcount is -1 for ORM inserts on PostgreSQL)

    def once(
        self,
        key: str,
        send: Callable[[], str],
        *,
        channel: str,
        incident_id: int | None = None,
        find: Find | None = None,
    ) -> str:
        """Send unless already sent (by anyone); returns the ref."""
        return self.send_once(key, send, channel=channel, incident_id=incident_id, find=find).ref

    def send_once(
        self,
        key: str,
        send: Callable[[], str],
        *,
        channel: str,
        incident_id: int | None = None,
        find: Find | None = None,
    ) -> Sent:
        """Send unless already sent (by anyone). `find` is asked first when this call takes over
        a dead sender's claim; a ref it returns is recorded instead of sending again."""
        existing = self.sent(key)
        if existing is not None:
            return Sent(existing, now=False)
        holder = f"{worker_name()}/{uuid.uuid4().hex[:12]}"
        claimed = self._claim(key, holder, channel=channel, incident_id=incident_id)
        if isinstance(claimed, str):
            return Sent(claimed, now=False)
        if find is not None and claimed.abandoned_at is not None:
            try:
                found = find(claimed.abandoned_at)
            except BaseException:
                self._let_go(key, holder)
                raise
            if found is not None:
                self._mark_sent(key, holder, found)
                return Sent(found, now=False)
        try:
            ref = send()
        except BaseException:
            self._release(key, holder)
            raise
        self._mark_sent(key, holder, ref)
        return Sent(ref, now=True)

    def _claim(self, key: str, holder: str, *, channel: str, incident_id: int | None) -> _Claimed | str:
        """Claim `key` for `holder`: `_Claimed` when held, the ref when it was sent meanwhile;
        raises NotificationInFlight while someone else's claim is live."""
        now = self._clock()
        until = now + self._claim_for
        with self._store.transaction() as session:
            inserted = session.execute(
                self._insert()
                .values(
                    key=key,
                    channel=channel,
                    ref="",
                    incident_id=incident_id,
                    sent_at=now,
                    state="claimed",
                    claimed_by=holder,
                    claimed_until=until,
                )
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(Notification.id)
            )
            if inserted.first() is not None:
                return _Claimed(abandoned_at=None)
            # A dead sender's claim: taken over, keeping when it was first claimed (`sent_at`),
            # from which the caller's `find` looks for a message that got out after all.
            taken = session.execute(
                update(Notification)
                .where(
                    Notification.key == key,
                    Notification.state == "claimed",
                    or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
                )
                .values(claimed_by=holder, claimed_until=until)
                .returning(Notification.sent_at)
            ).first()
            if taken is not None:
                return _Claimed(abandoned_at=taken.sent_at)
            row = session.execute(
                select(Notification.state, Notification.ref, Notification.claimed_until).where(
                    Notification.key == key
                )
            ).one()
        if row.state == "sent":
            return str(row.ref)
        recheck = min(row.claimed_until or until, now + RECHECK)
        raise NotificationInFlight(f"{key} is being sent by another worker", until=recheck)

    def _mark_sent(self, key: str, holder: str, ref: str) -> None:
        with self._store.transaction() as session:
            session.execute(
                update(Notification)
                .where(Notification.key == key, Notification.claimed_by == holder)
                .values(state="sent", ref=ref, sent_at=self._clock(), claimed_by=None, claimed_until=None)
            )

    def _let_go(self, key: str, holder: str) -> None:
        """Looking for a message failed: leave the claim abandoned, so the next sender looks too."""
        with self._store.transaction() as session:
            session.execute(
                update(Notification)
                .where(
                    Notification.key == key,
                    Notification.state == "claimed",
                    Notification.claimed_by == holder,
                )
                .values(claimed_by=None, claimed_until=None)
            )

    def _release(self, key: str, holder: str) -> None:
        """The send failed: give the key up so a retry (here or elsewhere) may send it."""
        with self._store.transaction() as session:
            session.execute(
                delete(Notification).where(
                    Notification.key == key,
                    Notification.state == "claimed",
                    Notification.claimed_by == holder,
                )
            )
