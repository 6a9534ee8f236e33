"""Summaries of a list of durations, and the share of a count."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Durations:
    """How long something took over `count` incidents (or approvals), in seconds."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Durations:
        if not seconds:
            return cls(0, None, None, None)
        ordered = sorted(seconds)
        # nearest-rank percentile: the value 90% of the durations are at or below
        p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
        return cls(len(ordered), statistics.fmean(ordered), statistics.median(ordered), p90)

    def to_json(self) -> dict[str, Any]:
        def rounded(v: float | None) -> float | None:
            return None if v is None else round(v, 3)

        return {
            "count": self.count,
            "mean_seconds": rounded(self.mean),
            "median_seconds": rounded(self.median),
            "p90_seconds": rounded(self.p90),
        }


def share(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (never a made-up 0)."""
    return None if whole == 0 else round(part / whole, 4)


def human_seconds(seconds: float | None) -> str:
    """`42s`, `7m 3s`, `2h 5m`, `3d 4h`; `-` for no value."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
