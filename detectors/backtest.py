"""Backtest: stream a `timestamp,value` CSV through the detector with no look-ahead.

Output (a fixed public interface, see DESIGN.md): `OUT/<name>.csv` with `timestamp,value,anomaly_score`,
one row per input row, in order; the score of row t uses rows <= t only.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.errors import ConductorError
from detectors.forest import ForestModel
from detectors.settings import DetectorSettings
from detectors.stream import SeriesState, StreamOutput, run_stream


class MalformedSeriesFile(ConductorError):
    """A series CSV that cannot be read; the message names the file and the line."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class SeriesFile:
    path: Path
    stamps: list[str]  # as written in the file, echoed to the output
    timestamps: np.ndarray  # seconds since the epoch, UTC
    values: np.ndarray


@dataclass(frozen=True, slots=True)
class BacktestSummary:
    name: str
    output: Path
    plot: Path | None
    rows: int
    scored: int  # rows past warm-up
    flagged: int  # rows at or above the threshold
    threshold: float
    seconds: float


def parse_timestamp(text: str) -> datetime:
    """ISO 8601; a timestamp without an offset is UTC."""
    stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def read_series(path: Path) -> SeriesFile:
    """Read a `timestamp,value` CSV, or raise MalformedSeriesFile naming the line at fault."""
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise MalformedSeriesFile(path, None, f"cannot open: {exc.strerror or exc}") from exc
    stamps: list[str] = []
    seconds: list[float] = []
    values: list[float] = []
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
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(names):
                    raise MalformedSeriesFile(path, line, f"expected {len(names)} columns, found {len(row)}")
                try:
                    stamp = parse_timestamp(row[it])
                except ValueError:
                    raise MalformedSeriesFile(path, line, f"bad timestamp {row[it]!r}") from None
                try:
                    value = float(row[iv])
                except ValueError:
                    raise MalformedSeriesFile(path, line, f"bad value {row[iv]!r}") from None
                if not math.isfinite(value):
                    raise MalformedSeriesFile(path, line, f"value {row[iv]!r} is not finite")
                if seconds and stamp.timestamp() < seconds[-1]:
                    raise MalformedSeriesFile(path, line, f"timestamp {row[it]!r} goes back in time")
                stamps.append(row[it])
                seconds.append(stamp.timestamp())
                values.append(value)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise MalformedSeriesFile(path, reader.line_num, f"not a CSV file: {exc}") from None
    if not values:
        raise MalformedSeriesFile(path, None, "no data rows")
    return SeriesFile(path, stamps, np.asarray(seconds), np.asarray(values))


def score_file(
    series: SeriesFile, settings: DetectorSettings, *, progress: Callable[[int], None] | None = None
) -> StreamOutput:
    """Stream one series through a fresh detector with its own forest (nothing shared with other files).

    The scores are the alert stream: anomaly probabilities with repeats de-duplicated (see
    `detectors.stream.deduplicate`)."""
    model = ForestModel(settings, private=True)
    return run_stream(
        SeriesState.new(settings, alerts=True),
        model,
        series.timestamps,
        series.values,
        settings,
        progress=progress,
    )


def write_scores(series: SeriesFile, scores: list[float | None], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for stamp, value, score in zip(series.stamps, series.values.tolist(), scores, strict=True):
            writer.writerow([stamp, repr(value), f"{0.0 if score is None else score:.10f}"])


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
    import time

    started = time.perf_counter()
    series = read_series(Path(path))
    th = settings.threshold if threshold is None else threshold
    result = score_file(series, settings, progress=progress)
    out = Path(out_dir) / series.path.name
    write_scores(series, result.scores, out)
    png: Path | None = None
    if plot:
        from detectors.plot import plot_backtest

        png = out.with_suffix(".png")
        plot_backtest(series, result.scores, th, png)
    scored = [s for s in result.scores if s is not None]
    return BacktestSummary(
        name=series.path.name,
        output=out,
        plot=png,
        rows=len(series.values),
        scored=len(scored),
        flagged=sum(s >= th for s in scored),
        threshold=th,
        seconds=time.perf_counter() - started,
    )
