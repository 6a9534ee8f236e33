"""Reading a `timestamp,value` CSV as it comes, and the per-row result of scoring it (shared by the
backtest and its chart).

Real exports are messy, so rows are taken as they come: a row whose timestamp or value cannot be
used (empty, not a number, NaN, unparseable time, missing cells) is skipped and gets an empty score;
a row whose timestamp repeats or goes back is scored as arriving right after the previous row (its
time is taken as the previous one). Only a file with nothing to score is refused.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from detectors.errors import MalformedSeriesFile


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


def parse_timestamp(text: str) -> datetime:
    """ISO 8601; a timestamp without an offset is UTC."""
    stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _parse_row(row: list[str], it: int, iv: int) -> tuple[float, float, str]:
    """(seconds, value, "") for a usable row, else (nan, nan, why)."""
    if all(not c.strip() for c in row):
        return math.nan, math.nan, "empty row"
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
                if not row:  # a blank line is not a row; a row of empty cells is one (skipped)
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
