"""Backtest chart: the series with its flagged points, and the anomaly score against the threshold."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from detectors.backtest import SeriesFile


def _nines(score: np.ndarray) -> np.ndarray:
    """0.9 -> 1, 0.99 -> 2, ...: anomaly probabilities near 1 spread out so the threshold is readable."""
    return -np.log10(np.clip(1.0 - score, 1e-12, 1.0))


def plot_backtest(series: SeriesFile, scores: list[float | None], threshold: float, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    when = [datetime.fromtimestamp(t, tz=UTC) for t in series.timestamps.tolist()]
    score = np.array([np.nan if s is None else s for s in scores], dtype=float)
    flagged = np.nan_to_num(score, nan=0.0) >= threshold
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(13, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]}, constrained_layout=True
    )
    top.plot(when, series.values, lw=0.7, color="#333333", label="value")
    if flagged.any():
        top.scatter(
            [w for w, f in zip(when, flagged, strict=True) if f],
            series.values[flagged],
            s=14,
            color="#d62728",
            zorder=3,
            label=f"anomalous ({int(flagged.sum())})",
        )
    top.set_title(f"{series.path.name}: {len(score)} points, {int(flagged.sum())} at or above {threshold:g}")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    nines = _nines(score)
    bottom.plot(when, nines, lw=0.7, color="#1f77b4", label="anomaly score")
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
