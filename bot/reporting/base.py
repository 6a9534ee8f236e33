"""What a reporter is, and the notification log that keeps retried jobs from sending twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

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


class NotificationLog:
    """`once(key, send)` sends only if `key` was never sent; the ref (ts, ticket key) is kept."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def sent(self, key: str) -> str | None:
        with self._store.sessions() as session:
            row = session.scalars(select(Notification).where(Notification.key == key)).first()
            return row.ref if row is not None else None

    def record(self, key: str, *, channel: str, ref: str = "", incident_id: int | None = None) -> bool:
        """True if this call recorded it (False: someone already had)."""
        insert = sqlite_insert if self._store.is_sqlite else pg_insert
        with self._store.transaction() as session:
            result = session.execute(
                insert(Notification)
                .values(key=key, channel=channel, ref=ref, incident_id=incident_id, sent_at=self._clock())
                .on_conflict_do_nothing(index_elements=["key"])
            )
            return bool(getattr(result, "rowcount", 0))

    def once(self, key: str, send: Callable[[], str], *, channel: str, incident_id: int | None = None) -> str:
        """Send unless already sent; returns the ref. (A crash between send and record can repeat one
        message, never lose one: the log is written after the outside system accepted it.)"""
        existing = self.sent(key)
        if existing is not None:
            return existing
        ref = send()
        self.record(key, channel=channel, ref=ref, incident_id=incident_id)
        return ref
