"""Human durations: 90s, 30m, 2h, 1d, 1h30m."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.errors import ConductorError

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class InvalidDuration(ConductorError):
    """A duration that cannot be read."""


class DurationTooLong(InvalidDuration):
    """A duration past what a timedelta holds (999,999,999 days)."""


def parse_duration(text: str) -> timedelta:
    compact = text.strip().lower().replace(" ", "")
    if not compact or _PART.sub("", compact):
        raise InvalidDuration(f"duration {text!r}: use e.g. 30m, 2h, 1d or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(compact))
    if seconds <= 0:
        raise InvalidDuration(f"duration {text!r} must be positive")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # past timedelta's 999,999,999 days (or infinite)
        raise DurationTooLong(f"duration {text!r} is too long") from None
