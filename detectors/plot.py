"""Backtest chart: why each point was flagged, at a glance.

Top: the series, the baseline it was judged against (its usual level for the time of day, or its
1-day mean) with a band of 3 spreads, and every flagged point coloured by the signal that fired.
Bottom: the score on a "nines" axis (0.9, 0.99, ...) with the threshold.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detectors.signals import MEMBER_TEXT, MEMBERS

if TYPE_CHECKING:
    from detectors.series_csv import ScoredFile, SeriesFile

SIGNAL_COLOURS = ("#9467bd", "#ff7f0e", "#2ca02c", "#d62728")  # forest, seasonal, level, record


def _nines(score: np.ndarray) -> np.ndarray:
    """0.9 -> 1, 0.99 -> 2, ...: scores near 1 spread out so the threshold is readable."""
    return -np.log10(np.clip(1.0 - score, 1e-15, 1.0))


def plot_backtest(series: SeriesFile, scored: ScoredFile, threshold: float, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    ok = series.usable
    when = np.array([datetime.fromtimestamp(t, tz=UTC) if ok[i] else None
                     for i, t in enumerate(series.timestamps.tolist())], dtype=object)  # fmt: skip
    score = np.array([np.nan if s is None else s for s in scored.scores], dtype=float)
    flagged = np.nan_to_num(score, nan=0.0) >= threshold
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(13, 6), sharex=True, gridspec_kw={"height_ratios": [3, 2]}, constrained_layout=True
    )
    x, v = when[ok], series.values[ok]
    base, spread = scored.expected[ok], scored.spread[ok]
    top.fill_between(x, base - 3 * spread, base + 3 * spread, color="#1f77b4", alpha=0.15, lw=0,
                     label="baseline ± 3 spreads")  # fmt: skip
    top.plot(x, base, lw=0.6, color="#1f77b4", alpha=0.7)
    top.plot(x, v, lw=0.7, color="#333333", label="value")
    for k, name in enumerate(MEMBERS):
        hit = flagged & (scored.signal == k)
        if hit.any():
            label = f"flagged: {MEMBER_TEXT[name]} ({int(hit.sum())})"
            top.scatter(list(when[hit]), series.values[hit], s=30, color=SIGNAL_COLOURS[k], zorder=3,
                        edgecolor="black", lw=0.5, label=label)  # fmt: skip
    lo, hi = np.nanpercentile(v, [0.5, 99.5])
    pad = (hi - lo) * 0.5 + 1e-9
    top.set_ylim(min(lo - pad, float(np.nanmin(v))), max(hi + pad, float(np.nanmax(v))))
    skipped = f", {len(series.skipped)} rows skipped" if series.skipped else ""
    flags = f"{int(flagged.sum())} flagged (score >= {threshold:g})"
    top.set_title(f"{series.path.name}: {len(score)} rows{skipped}, {flags}")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    nines = _nines(score[ok])
    bottom.plot(x, nines, lw=0.7, color="#1f77b4", label="anomaly score")
    for k in range(len(MEMBERS)):
        hit = (flagged & (scored.signal == k))[ok]
        if hit.any():
            bottom.scatter(list(x[hit]), nines[hit], s=18, color=SIGNAL_COLOURS[k], zorder=3)
    bottom.axhline(float(_nines(np.array([threshold]))[0]), color="#d62728", ls="--", lw=1, label="threshold")
    top_tick = max(4, math.ceil(float(np.nanmax(nines, initial=0.0))) + 1)
    ticks = list(range(0, top_tick + 1, max(1, top_tick // 6)))
    bottom.set_yticks(ticks, ["0" if k == 0 else "0." + "9" * k for k in ticks])
    bottom.set_ylabel("anomaly score")
    bottom.legend(loc="upper left", fontsize=8)
    bottom.grid(alpha=0.3)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
