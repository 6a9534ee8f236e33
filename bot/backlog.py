"""How far behind the workers are: the age of the oldest pending raw event and queued job.

A backlog that only grows (a stuck worker, a body that fails every time) shows here before anyone
notices missing incidents; `/readyz` and `/metrics` report both ages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.store.db import Store
from bot.store.models import Job, RawEvent


@dataclass(frozen=True, slots=True)
class BacklogAges:
    """Seconds since the oldest pending raw event was received, and since the oldest due job
    became due; None when there is none."""

    raw_events: float | None
    jobs: float | None


def backlog_ages(store: Store, now: datetime) -> BacklogAges:
    with store.sessions() as session:
        # Both read one row through an index ((status, id) and (status, run_after)).
        received = session.scalar(
            select(RawEvent.received_at).where(RawEvent.status == "pending").order_by(RawEvent.id).limit(1)
        )
        due = session.scalar(
            select(Job.run_after)
            .where(Job.status == "pending", Job.run_after <= now)
            .order_by(Job.run_after)
            .limit(1)
        )
    return BacklogAges(
        raw_events=None if received is None else max(0.0, (now - received).total_seconds()),
        jobs=None if due is None else max(0.0, (now - due).total_seconds()),
    )
