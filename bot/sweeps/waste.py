"""The waste report: instances and apps whose average CPU stayed under a threshold over a window.

Each finding carries its evidence (average, peak, 95th percentile, coverage and the daily averages
of the series). The report is stored with the run and posted to Slack when Slack is configured.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from bot.config.sweeps import SweepSettings
from bot.errors import ConductorError
from bot.sweeps.collect import TaggedSeries, collect, total_points
from bot.sweeps.render import waste_message
from bot.sweeps.report import KindResult, Progress, iso
from bot.sweeps.slack_post import post_summary
from bot.sweeps.sources import SweepSources


class InsufficientData(ConductorError):
    """Too little of the window has data to judge the resource."""

    def __init__(self, coverage: float) -> None:
        self.coverage = coverage
        super().__init__(f"coverage {coverage:.0%}")


def evaluate(item: TaggedSeries, sweep: SweepSettings) -> dict[str, Any] | None:
    """A finding when the series' average is under the threshold and it covers enough of the window;
    None when the resource is busy enough. Raises `InsufficientData` for too sparse a series."""
    window = timedelta(days=sweep.window_days)
    expected = max(1, math.floor(window / sweep.period()))
    values = item.series.values
    coverage = len(values) / expected
    if not values or coverage < sweep.min_coverage:
        raise InsufficientData(coverage)
    average = sum(values) / len(values)
    if average >= sweep.cpu_threshold:
        return None
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "type": "waste",
        "series": item.series.key,
        "resource": item.resource.model_dump(mode="json"),
        "metric": item.metric.model_dump(mode="json"),
        "average": round(average, 3),
        "peak": round(max(values), 3),
        "p95": round(p95, 3),
        "threshold": sweep.cpu_threshold,
        "window_days": sweep.window_days,
        "points": len(values),
        "coverage": round(min(coverage, 1.0), 3),
        "first": iso(item.series.timestamps[0]),
        "last": iso(item.series.timestamps[-1]),
        "daily": daily_averages(item),
    }


def daily_averages(item: TaggedSeries) -> list[dict[str, Any]]:
    """The evidence: per UTC day, the average and peak of the series."""
    days: dict[str, list[float]] = defaultdict(list)
    for moment, value in zip(item.series.timestamps, item.series.values, strict=True):
        days[moment.date().isoformat()].append(value)
    return [
        {"date": day, "average": round(sum(vs) / len(vs), 3), "peak": round(max(vs), 3), "points": len(vs)}
        for day, vs in sorted(days.items())
    ]


def run_waste(
    sweep: SweepSettings, *, sources: SweepSources, now: datetime, progress: Progress | None = None
) -> KindResult:
    collected = collect(
        sweep, sources, end=now, lookback=timedelta(days=sweep.window_days), progress=progress
    )
    findings: list[dict[str, Any]] = []
    sparse: list[dict[str, Any]] = []
    for item in collected.series:
        try:
            finding = evaluate(item, sweep)
        except InsufficientData as why:
            sparse.append({"series": item.series.key, "coverage": round(why.coverage, 3)})
            continue
        if finding is not None:
            findings.append(finding)
    findings.sort(key=lambda f: (f["average"], f["series"]))
    result = KindResult(
        series_scanned=len(collected.series),
        findings=findings,
        sources=collected.sources,
        details={
            "points": total_points(collected.series),
            "cpu_threshold": sweep.cpu_threshold,
            "window_days": sweep.window_days,
            "insufficient_data": sparse[:100],
            "insufficient_data_count": len(sparse),
        },
    )
    message = waste_message(sweep, result, now)
    result.details["slack"] = post_summary(sweep, sources, message, result.problems)
    return result
