"""APScheduler triggers for sweeps, the same on every replica.

Cron schedules are absolute already. Interval ticks are aligned to a fixed epoch instead of each
process's start time, so all replicas agree on the tick times, and a tick is a stable identity
(`sweep_runs` is unique on sweep and tick). Jitter is applied by the job itself, after the tick is
known, for the same reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config.sweeps import SweepSettings

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def sweep_trigger(sweep: SweepSettings, *, timezone: str = "UTC") -> Any:
    schedule = sweep.schedule
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone=timezone)
    interval = schedule.interval()
    assert interval is not None  # the settings allow exactly one of cron and an interval
    return IntervalTrigger(seconds=interval.total_seconds(), start_date=EPOCH, timezone=timezone)


def next_tick(sweep: SweepSettings, now: datetime, *, timezone: str = "UTC") -> datetime | None:
    """The first tick at or after `now` (UTC)."""
    fire: datetime | None = sweep_trigger(sweep, timezone=timezone).get_next_fire_time(None, now)
    return None if fire is None else fire.astimezone(UTC)
