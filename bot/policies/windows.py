"""When a freeze is in force: one-off ranges, and cron windows in a time zone (APScheduler's
CronTrigger computes the fire times, so DST and day-of-week rules are the library's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))


def recurring_window(
    expression: str, timezone: str, duration: timedelta, now: datetime
) -> tuple[datetime, datetime] | None:
    """The window (start, end) in force at `now`, or None.

    A window starts at a fire time and lasts `duration`; the first fire time at or after
    `now - duration` starts the window that could contain `now`.
    """
    trigger = cron_trigger(expression, timezone)
    start = trigger.get_next_fire_time(None, now - duration)
    if start is None or start > now or start + duration <= now:
        return None
    return start, start + duration


def next_window_start(expression: str, timezone: str, now: datetime) -> datetime | None:
    fire: datetime | None = cron_trigger(expression, timezone).get_next_fire_time(None, now)
    return fire
