"""When a recurring freeze is in force: cron windows in a time zone (APScheduler's CronTrigger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config.policies import FreezeSettings
from bot.policies.windows import next_window_start, recurring_window

TWO_HOURS = timedelta(hours=2)


@pytest.mark.parametrize(
    ("now", "in_force"),
    [
        pytest.param(datetime(2026, 12, 4, 21, 59, tzinfo=UTC), False, id="a-minute-before"),
        pytest.param(datetime(2026, 12, 4, 22, 0, tzinfo=UTC), True, id="at-the-start"),
        pytest.param(datetime(2026, 12, 4, 23, 59, tzinfo=UTC), True, id="inside"),
        pytest.param(datetime(2026, 12, 5, 0, 0, tzinfo=UTC), False, id="at-the-end"),
        pytest.param(datetime(2026, 12, 3, 22, 30, tzinfo=UTC), False, id="another-weekday"),
    ],
)
def test_friday_night_window(now: datetime, in_force: bool) -> None:
    window = recurring_window("0 22 * * FRI", "UTC", TWO_HOURS, now)
    assert (window is not None) is in_force
    if window is not None:
        assert window == (datetime(2026, 12, 4, 22, 0, tzinfo=UTC), datetime(2026, 12, 5, 0, 0, tzinfo=UTC))


def test_the_time_zone_moves_the_window_with_daylight_saving() -> None:
    # 01:00 in Berlin is 00:00 UTC in winter and 23:00 UTC (the day before) in summer.
    winter = recurring_window(
        "0 1 * * *", "Europe/Berlin", TWO_HOURS, datetime(2026, 1, 10, 0, 30, tzinfo=UTC)
    )
    summer = recurring_window(
        "0 1 * * *", "Europe/Berlin", TWO_HOURS, datetime(2026, 7, 9, 23, 30, tzinfo=UTC)
    )
    assert winter is not None and winter[0] == datetime(2026, 1, 10, 0, 0, tzinfo=UTC)
    assert summer is not None and summer[0] == datetime(2026, 7, 9, 23, 0, tzinfo=UTC)
    assert (
        recurring_window("0 1 * * *", "Europe/Berlin", TWO_HOURS, datetime(2026, 7, 10, 1, 30, tzinfo=UTC))
        is None
    )


def test_next_window() -> None:
    assert next_window_start("0 22 * * FRI", "UTC", datetime(2026, 12, 3, tzinfo=UTC)) == datetime(
        2026, 12, 4, 22, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"cron": "0 22 * * FRI"}, "needs duration_minutes", id="cron-without-duration"),
        pytest.param({"cron": "61 * * * *", "duration_minutes": 5}, r"cron '61 \* \* \* \*'", id="bad-cron"),
        pytest.param(
            {"cron": "0 1 * * *", "duration_minutes": 5, "timezone": "Mars/Olympus"},
            "unknown time zone",
            id="bad-zone",
        ),
        pytest.param({}, "needs ends_at", id="one-off-without-end"),
        pytest.param(
            {"starts_at": "2026-12-05T00:00:00Z", "ends_at": "2026-12-04T00:00:00Z"},
            "before ends_at",
            id="backwards",
        ),
        pytest.param(
            {"cron": "0 1 * * *", "duration_minutes": 5, "ends_at": "2026-12-04T00:00:00Z"},
            "not starts_at/ends_at",
            id="both-kinds",
        ),
        pytest.param(
            {"ends_at": "2026-12-04T00:00:00Z", "match": [{"name": "team", "value": "x"}]},
            "match",
            id="bad-scope",
        ),
    ],
)
def test_bad_freezes_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FreezeSettings.model_validate({"name": "f", **values})
