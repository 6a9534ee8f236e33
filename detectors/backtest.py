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
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.errors import ConductorError
from detectors.settings import DetectorSettings

CHUNK = 2000  # rows per kernel call (progress reporting only: results do not depend on it)


class MalformedSeriesFile(ConductorError):
    """A series CSV that cannot be used at all; the message names the file (and the line)."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class SkippedRow:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class SeriesFile:
    path: Path
    cells: list[tuple[str, str]]  # (timestamp, value) as written, echoed to the output
    timestamps: np.ndarray  # seconds since the epoch (UTC), NaN for a skipped row
    values: np.ndarray  # NaN for a skipped row
    skipped: list[SkippedRow]
    out_of_order: int  # usable rows whose timestamp repeats or goes back

    @property
    def usable(self) -> np.ndarray:
        mask: np.ndarray = np.isfinite(self.values)
        return mask


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


def parse_timestamp(text: str) -> datetime:
    """ISO 8601; a timestamp without an offset is UTC."""
    stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _parse_row(row: list[str], it: int, iv: int) -> tuple[float, float, str]:
    """(seconds, value, "") for a usable row, else (nan, nan, why)."""
    if len(row) <= max(it, iv):
        return math.nan, math.nan, f"{len(row)} cells, expected at least {max(it, iv) + 1}"
    try:
        t = parse_timestamp(row[it]).timestamp()
    except (ValueError, OverflowError):
        return math.nan, math.nan, f"bad timestamp {row[it]!r}"
    try:
        x = float(row[iv])
    except ValueError:
        return math.nan, math.nan, f"bad value {row[iv]!r}"
    if not math.isfinite(x):
        return math.nan, math.nan, f"value {row[iv]!r} is not finite"
    return t, x, ""


def read_series(path: Path) -> SeriesFile:
    """Read a `timestamp,value` CSV, skipping unusable rows; raise MalformedSeriesFile when the file
    cannot be read or has no usable row."""
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise MalformedSeriesFile(path, None, f"cannot open: {exc.strerror or exc}") from exc
    cells: list[tuple[str, str]] = []
    seconds: list[float] = []
    values: list[float] = []
    skipped: list[SkippedRow] = []
    out_of_order = 0
    latest = -math.inf
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:
                raise MalformedSeriesFile(path, 1, "empty file, expected a 'timestamp,value' header")
            names = [h.strip().lower() for h in header]
            if "timestamp" not in names or "value" not in names:
                raise MalformedSeriesFile(path, 1, f"header {header!r} lacks 'timestamp' and 'value' columns")
            it, iv = names.index("timestamp"), names.index("value")
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                t, x, why = _parse_row(row, it, iv)
                if why:
                    skipped.append(SkippedRow(reader.line_num, why))
                elif t <= latest:
                    out_of_order += 1
                latest = max(latest, t) if not why else latest
                cells.append((row[it] if len(row) > it else "", row[iv] if len(row) > iv else ""))
                seconds.append(t)
                values.append(x)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise MalformedSeriesFile(path, reader.line_num, f"not a CSV file: {exc}") from None
    if not values:
        raise MalformedSeriesFile(path, None, "no data rows")
    if len(skipped) == len(values):
        first = skipped[0]
        raise MalformedSeriesFile(path, first.line, f"no row can be scored (first: {first.reason})")
    return SeriesFile(path, cells, np.asarray(seconds), np.asarray(values), skipped, out_of_order)


@dataclass(frozen=True, slots=True)
class ScoredFile:
    """Per row: the alert score (None for a skipped row, 0.0 during warm-up) and, for charts, the
    baseline the value was judged against and the signal that fired (NaN / -1 where none)."""

    scores: list[float | None]
    expected: np.ndarray
    spread: np.ndarray
    signal: np.ndarray


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
