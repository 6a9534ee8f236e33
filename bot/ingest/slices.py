"""One large delivery (a big Alertmanager group) applied a bounded slice per transaction.

Applying 13,000 alerts in one transaction held the store's write lock for seconds (minutes for
100,000), and every webhook waited for it. Each slice is its own transaction, which also records
how far the event has got (`raw_events.alerts_done`) and extends the worker's claim; the last
one marks the event done. Other writers (the intake committing webhooks) get the lock between
slices. A worker that dies part-way leaves the progress behind, and whoever claims the event
next resumes at the first alert not yet applied: each alert is applied exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.alerts.normalized import NormalizedAlert
from bot.incidents.apply import ApplyReport
from bot.store.db import Store
from bot.store.models import RawEvent

# Alerts per transaction: a few tens of milliseconds of write lock.
SLICE_ALERTS = 256

ApplySlice = Callable[[Session, Sequence[NormalizedAlert], datetime], ApplyReport]


def apply_in_slices(
    store: Store,
    raw_event_id: int,
    worker: str,
    alerts: Sequence[NormalizedAlert],
    *,
    start: int,
    lease: timedelta,
    clock: Callable[[], datetime],
    apply: ApplySlice,
) -> Iterator[tuple[Sequence[NormalizedAlert], ApplyReport]]:
    """Apply `alerts[start:]`, yielding each slice and its report once committed. Stops early
    when the event is no longer this worker's (its claim was taken over)."""
    offset = start
    while offset < len(alerts):
        part = alerts[offset : offset + SLICE_ALERTS]
        end = offset + len(part)
        with store.transaction() as session:
            now = clock()
            last = end >= len(alerts)
            progress = update(RawEvent).where(
                RawEvent.id == raw_event_id,
                RawEvent.status == "pending",
                RawEvent.claimed_by == worker,
                RawEvent.alerts_done == offset,
            )
            if last:
                progress = progress.values(
                    alerts_done=end, status="done", processed_at=now, claimed_until=None
                )
            else:
                progress = progress.values(alerts_done=end, claimed_until=now + lease)
            if getattr(session.execute(progress), "rowcount", 0) != 1:
                return
            report = apply(session, part, now)
        yield part, report
        offset = end


def add_report(total: ApplyReport, part: ApplyReport) -> None:
    """Add one slice's report to the event's."""
    total.alerts_new += part.alerts_new
    total.alerts_repeated += part.alerts_repeated
    total.alerts_muted += part.alerts_muted
    for name in ("opened", "reopened", "updated", "resolved"):
        getattr(total, name).extend(getattr(part, name))
