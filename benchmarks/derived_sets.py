"""Derived development sets: the 28 NAB development series as other kinds of metric would send them.

The acceptance series are other NAB series (other steps, other shapes, real exports' faults); the only
honest way to prepare for them without looking at them is to change the series we have in the ways
real metrics differ, and keep the labels:

  original   the series as they are;
  30min      averaged into 30-minute buckets (a window maps to the buckets of its ends);
  60min      averaged into hourly buckets;
  irregular  timestamps jittered by up to 30% of the step, 10% of the rows dropped (gaps), 1% of
             the rows repeated, 0.5% sent back in time, 0.2% with an empty or non-numeric value;
  counts     small integer counts (the value's offset from its minimum in units of 1/8 of its median
             offset, rounded), as error or request counts come;
  scaled     value x 1e5 plus 5 times its range: a big level with a small relative variation.

`build(data, out)` writes each set as a NAB data directory (`<set>/<folder>/<file>.csv` and
`<set>/labels/combined_windows.json`) that `nab_score.py` reads like the original. Deterministic: the
same data and seed give the same files.
"""

from __future__ import annotations

import csv
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

SETS = ("original", "30min", "60min", "irregular", "counts", "scaled")
FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class Labelled:
    """One series as rows (seconds, value cell) with its windows as row-index pairs."""

    seconds: np.ndarray
    cells: list[str]
    windows: list[tuple[int, int]]


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(round(seconds), tz=UTC).strftime(FORMAT)


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC).timestamp()


def read_labelled(data: Path) -> dict[str, Labelled]:
    """Every series of `data` that has an entry in its labels file (and exists), by `folder/file.csv`."""
    windows = json.loads((data / "labels" / "combined_windows.json").read_text())
    out: dict[str, Labelled] = {}
    for rel in sorted(windows):
        path = data / rel
        if not path.is_file():
            continue
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        seconds = np.array([_seconds(r["timestamp"]) for r in rows])
        index = {t: i for i, t in enumerate(seconds.tolist())}
        bounds = [(index[_seconds(a)], index[_seconds(b)]) for a, b in windows[rel]]
        out[rel] = Labelled(seconds, [r["value"] for r in rows], sorted(bounds))
    return out


def _values(s: Labelled) -> np.ndarray:
    return np.array([float(c) for c in s.cells])


def resample(s: Labelled, minutes: int) -> Labelled:
    """Mean per bucket of `minutes`; a window spans the buckets of its first and last rows."""
    width = 60.0 * minutes
    bucket = np.floor(s.seconds / width) * width
    starts, inverse = np.unique(bucket, return_inverse=True)
    sums = np.bincount(inverse, weights=_values(s))
    means = sums / np.bincount(inverse)
    windows = [(int(inverse[a]), int(inverse[b])) for a, b in s.windows]
    return Labelled(starts, [repr(float(v)) for v in means], windows)


def irregular(s: Labelled, rng: np.random.Generator) -> Labelled:
    """Jitter, gaps, repeats, rows back in time and unusable values; window ends stay as they are."""
    n = len(s.seconds)
    step = float(np.median(np.diff(s.seconds)))
    ends = {i for w in s.windows for i in w}
    free = np.array([i not in ends for i in range(n)])
    jitter = rng.uniform(-0.3, 0.3, n) * step
    jitter[~free] = 0.0
    seconds = np.round(s.seconds + jitter)
    keep = ~(free & (rng.random(n) < 0.10))
    keep[0] = True
    seconds_out: list[float] = []
    cells_out: list[str] = []
    where: dict[int, int] = {}
    for i in np.flatnonzero(keep).tolist():
        t, cell = float(seconds[i]), s.cells[i]
        if free[i] and seconds_out:
            u = rng.random()
            if u < 0.005:
                t = seconds_out[-1] - step / 2  # goes back in time
            elif u < 0.007:
                cell = "" if rng.random() < 0.5 else "n/a"
        where[i] = len(seconds_out)
        seconds_out.append(t)
        cells_out.append(cell)
        if free[i] and rng.random() < 0.01:  # the same row again
            seconds_out.append(t)
            cells_out.append(cell)
    windows = [(where[a], where[b]) for a, b in s.windows]
    return Labelled(np.array(seconds_out), cells_out, windows)


def counts(s: Labelled) -> Labelled:
    v = _values(s)
    offset = v - v.min()
    unit = float(np.median(offset)) / 8.0
    if unit <= 0:
        unit = float(offset.max()) / 20.0 or 1.0
    return Labelled(s.seconds, [str(int(c)) for c in np.round(offset / unit)], s.windows)


def scaled(s: Labelled) -> Labelled:
    v = _values(s)
    out = v * 1e5 + 5.0 * float(v.max() - v.min()) * 1e5
    return Labelled(s.seconds, [repr(float(x)) for x in out], s.windows)


def derive(name: str, s: Labelled, rng: np.random.Generator) -> Labelled:
    makers: dict[str, Callable[[], Labelled]] = {
        "original": lambda: s,
        "30min": lambda: resample(s, 30),
        "60min": lambda: resample(s, 60),
        "irregular": lambda: irregular(s, rng),
        "counts": lambda: counts(s),
        "scaled": lambda: scaled(s),
    }
    return makers[name]()


def write_set(out: Path, series: dict[str, Labelled]) -> Path:
    labels: dict[str, list[list[str]]] = {}
    for rel, s in series.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["timestamp", "value"])
            writer.writerows(zip([_stamp(t) for t in s.seconds.tolist()], s.cells, strict=True))
        labels[rel] = [[_stamp(s.seconds[a]), _stamp(s.seconds[b])] for a, b in s.windows]
    (out / "labels").mkdir(parents=True, exist_ok=True)
    (out / "labels" / "combined_windows.json").write_text(json.dumps(labels, indent=1))
    return out


def build(data: Path, out: Path, *, sets: tuple[str, ...] = SETS, seed: int = 7) -> dict[str, Path]:
    """Write every derived set of `data` under `out/<set>`; returns the data directory of each set."""
    source = read_labelled(data)
    dirs = {}
    for name in sets:
        derived = {
            rel: derive(name, s, np.random.default_rng([seed, zlib.crc32(f"{name}/{rel}".encode())]))
            for rel, s in source.items()
        }
        dirs[name] = write_set(out / name, derived)
    return dirs
