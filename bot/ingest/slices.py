"""One large delivery (a big Alertmanager group) applied a bounded slice per transaction.

Applying 13,000 alerts in one transaction held the store's write lock for seconds (minutes for
100,000), and every webhook waited for it. Each slice is its own transaction, bounded in time
and in alerts, which also records how far the event has got (`raw_events.alerts_done`) and
extends the worker's claim; the last one marks the event done. Between slices the caller lets
other writers in: on SQLite a writer waiting for the lock polls it every 100 ms or so, and a
worker starting its next transaction at once would win the lock every time. A worker that dies
part-way leaves the progress behind, and whoever claims the event next resumes at the first
alert not yet applied: each alert is applied exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.alerts.normalized import NormalizedAlert
from bot.incidents.apply import ApplyReport
from bot.store.db import Store
from bot.store.models import RawEvent

# A transaction applies alerts STEP at a time until it has spent SLICE_SECONDS or applied
# SLICE_ALERTS: a few tens of milliseconds of write lock even on a loaded machine.
SLICE_ALERTS = 256
SLICE_SECONDS = 0.05
STEP = 16

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
    between: Callable[[], None] = lambda: None,
    timer: Callable[[], float] = time.monotonic,
) -> Iterator[tuple[Sequence[NormalizedAlert], ApplyReport]]:
    """Apply `alerts[start:]`, yielding each slice and its report once committed; `between` runs
    between two slices (the workers let webhooks waiting for the lock commit first). Stops early
    when the event is no longer this worker's (its claim was taken over)."""
    offset = start
    while offset < len(alerts):
        with store.transaction() as session:
            now = clock()
            mine = select(RawEvent.id).where(
                RawEvent.id == raw_event_id,
                RawEvent.status == "pending",
                RawEvent.claimed_by == worker,
                RawEvent.alerts_done == offset,
            )
            if not store.is_sqlite:  # SQLite: BEGIN IMMEDIATE already holds the write lock
                mine = mine.with_for_update()
            if session.execute(mine).first() is None:
                return
            report = ApplyReport()
            end = offset
            deadline = timer() + SLICE_SECONDS
            while end < len(alerts) and end - offset < SLICE_ALERTS and (end == offset or timer() < deadline):
                step = alerts[end : min(end + STEP, offset + SLICE_ALERTS)]
                add_report(report, apply(session, step, now))
                end += len(step)
            progress = update(RawEvent).where(RawEvent.id == raw_event_id)
            if end >= len(alerts):
                progress = progress.values(
                    alerts_done=end, status="done", processed_at=now, claimed_until=None
                )
            else:
                progress = progress.values(alerts_done=end, claimed_until=now + lease)
            session.execute(progress)
        yield alerts[offset:end], report
        offset = end
        if offset < len(alerts):
            between()


def add_report(total: ApplyReport, part: ApplyReport) -> None:
    """Add one slice's report to the event's."""
    total.alerts_new += part.alerts_new
    total.alerts_repeated += part.alerts_repeated
    total.alerts_muted += part.alerts_muted
    for name in ("opened", "reopened", "updated", "resolved"):
        getattr(total, name).extend(getattr(part, name))
