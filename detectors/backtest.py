"""Backtest: stream a `timestamp,value` CSV through the detector with no look-ahead.

Output (a fixed public interface, see DESIGN.md): `OUT/<name>.csv` with `timestamp,value,anomaly_score`,
one row per input row, in order; the score of row t uses rows <= t only.

Real exports are messy, so rows are taken as they come: a row whose timestamp or value cannot be
used (empty, not a number, NaN, unparseable time, missing cells) is skipped and gets an empty score;
a row whose timestamp repeats or goes back is scored as arriving right after the previous row (its
time is taken as the previous one). Only a file with nothing to score is refused.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.series_csv import ScoredFile, SeriesFile, SkippedRow, read_series
from detectors.settings import DetectorSettings

CHUNK = 2000  # rows per kernel call (progress reporting only: results do not depend on it)


@dataclass(frozen=True, slots=True)
class BacktestSummary:
    name: str
    output: Path
    plot: Path | None
    rows: int
    scored: int  # rows with a score (past warm-up)
    skipped: int  # rows that could not be used (empty score)
    out_of_order: int  # rows whose timestamp repeated or went back (scored in file order)
    flagged: int  # rows at or above the threshold
    threshold: float
    seconds: float
    first_skipped: SkippedRow | None = None


def score_file(
    series: SeriesFile, settings: DetectorSettings, *, progress: Callable[[int], None] | None = None
) -> ScoredFile:
    """Stream one series through a fresh `SeriesDetector`: the same object, code and post-processing
    the live detector keeps per series."""
    from detectors.stream import SeriesDetector

    det = SeriesDetector(settings)
    usable = np.flatnonzero(series.usable)
    n = len(series.values)
    out: list[float | None] = [None] * n
    expected, spread, signal = np.full(n, np.nan), np.full(n, np.nan), np.full(n, -1)
    for lo in range(0, len(usable), CHUNK):
        rows = usable[lo : lo + CHUNK]
        result = det.feed(series.timestamps[rows], series.values[rows])
        for i, s in zip(rows.tolist(), result.score.tolist(), strict=True):
            out[i] = 0.0 if math.isnan(s) else s
        expected[rows], spread[rows], signal[rows] = result.expected, result.spread, result.signal
        if progress is not None:
            progress(len(rows))
    return ScoredFile(out, expected, spread, signal)


def write_scores(series: SeriesFile, scores: list[float | None], out: Path) -> None:
    """One row per input row, in order; the score written exactly (shortest round-trip form, so
    0.9999999 and 0.99999999 stay apart), an empty cell for a skipped row."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for (stamp, value), score in zip(series.cells, scores, strict=True):
            writer.writerow([stamp, value, "" if score is None else repr(score)])


def backtest_file(
    path: Path,
    out_dir: Path,
    *,
    settings: DetectorSettings,
    plot: bool = False,
    threshold: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> BacktestSummary:
    """Backtest one file into `out_dir/<name>.csv` (and `<name>.png` with `plot`)."""
    started = time.perf_counter()
    series = read_series(Path(path))
    th = settings.threshold if threshold is None else threshold
    scored_file = score_file(series, settings, progress=progress)
    scores = scored_file.scores
    out = Path(out_dir) / series.path.name
    write_scores(series, scores, out)
    png: Path | None = None
    if plot:
        from detectors.plot import plot_backtest

        png = out.with_suffix(".png")
        plot_backtest(series, scored_file, th, png)
    scored = [s for s in scores if s is not None]
    return BacktestSummary(
        name=series.path.name,
        output=out,
        plot=png,
        rows=len(scores),
        scored=len(scored),
        skipped=len(series.skipped),
        out_of_order=series.out_of_order,
        flagged=sum(s >= th for s in scored),
        threshold=th,
        seconds=time.perf_counter() - started,
        first_skipped=series.skipped[0] if series.skipped else None,
    )
