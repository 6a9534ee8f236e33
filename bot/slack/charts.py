"""A PNG chart of the metric around an anomaly, for the incident's thread.

Drawn on a bare `Figure` with the Agg canvas (no pyplot global state, safe in worker threads):
the metric line with flagged points marked and the alarm threshold as a band, and — when
anomaly scores are given — a score panel below with the detector's threshold. Time is UTC.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

VALUE_COLOR = "#1f77b4"
FLAG_COLOR = "#d62728"
THRESHOLD_COLOR = "#ff7f0e"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _time_axis(ax: Axes) -> None:
    # matplotlib.dates is not annotated upstream.
    locator = AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]
    ax.grid(True, alpha=0.3)


def render_metric_chart(
    timestamps: Sequence[datetime],
    values: Sequence[float | None],
    *,
    title: str,
    scores: Sequence[float | None] | None = None,
    flagged: Sequence[bool] | None = None,
    threshold: float | None = None,
    value_threshold: float | None = None,
    unit: str = "",
) -> bytes:
    """Render the series to PNG bytes.

    `scores` are anomaly scores in [0, 1] per point and `threshold` the detector's cut-off;
    points are flagged where `flagged` says so, else where score >= threshold.
    `value_threshold` is the alarm's own threshold on the metric, drawn as a band.
    """
    n = len(timestamps)
    if n == 0:
        raise ValueError("nothing to chart: no points")
    lengths = {len(values), *(len(s) for s in (scores, flagged) if s is not None)}
    if lengths != {n}:
        raise ValueError("timestamps, values, scores and flagged must have the same length")
    xs = [float(date2num(_utc(t))) for t in timestamps]  # type: ignore[no-untyped-call]
    ys = [_num(v) for v in values]
    if flagged is None:
        if scores is not None and threshold is not None:
            flagged = [s is not None and s >= threshold for s in scores]
        else:
            flagged = [False] * n

    fig = Figure(figsize=(9, 4.8 if scores is not None else 3.8), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    if scores is not None:
        ax, score_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    else:
        ax, score_ax = fig.subplots(1, 1), None

    ax.plot(xs, ys, color=VALUE_COLOR, linewidth=1.4, label="value")
    fx = [x for x, f in zip(xs, flagged, strict=True) if f]
    fy = [y for y, f in zip(ys, flagged, strict=True) if f]
    if fx:
        ax.scatter(fx, fy, color=FLAG_COLOR, s=28, zorder=3, label=f"flagged ({len(fx)})")
    if value_threshold is not None:
        ax.axhline(
            value_threshold, color=THRESHOLD_COLOR, linestyle="--", linewidth=1.2, label="alarm threshold"
        )
        top = max([value_threshold, *[y for y in ys if not math.isnan(y)]])
        ax.axhspan(value_threshold, top + abs(top) * 0.05 + 1e-9, color=THRESHOLD_COLOR, alpha=0.08)
    ax.set_title(title[:120], fontsize=11, loc="left")
    ax.set_ylabel(unit or "value")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    _time_axis(ax)

    if score_ax is not None and scores is not None:
        ss = [_num(s) for s in scores]
        score_ax.plot(xs, ss, color="#555555", linewidth=1.1, label="anomaly score")
        score_ax.set_ylim(0, 1.05)
        score_ax.set_ylabel("score")
        if threshold is not None:
            score_ax.axhline(
                threshold, color=FLAG_COLOR, linestyle="--", linewidth=1.1, label=f"threshold {threshold:g}"
            )
            score_ax.axhspan(threshold, 1.05, color=FLAG_COLOR, alpha=0.08)
        score_ax.legend(loc="upper left", fontsize=8, frameon=False)
        _time_axis(score_ax)
        score_ax.set_xlabel("time (UTC)")
    else:
        ax.set_xlabel("time (UTC)")

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
