"""The development sets (the NAB development series and their derived variants) scored the way the
product scores: every file goes through `detectors.backtest.score_file` (what `conductor backtest`,
the detect stage, verification and sweeps run) and the result through the NAB scorer
(`benchmarks/nab_score.py`, a copy of `../shared/tools/nab_score.py`).

Used by `benchmarks/nab_cv.py`; see `benchmarks/derived_sets.py` for what the sets are.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.derived_sets import SETS, build  # noqa: E402
from detectors.backtest import score_file  # noqa: E402
from detectors.series_csv import SeriesFile, read_series  # noqa: E402
from detectors.settings import DetectorSettings  # noqa: E402

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
WEEK_SECONDS = 7 * 86400.0


def load_scorer() -> ModuleType:
    path = Path(__file__).resolve().parent / "nab_score.py"
    spec = importlib.util.spec_from_file_location("nab_score", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["nab_score"] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class DevSet:
    name: str
    labels: list[Any]  # nab_score.Series, in sorted `folder/file.csv` order
    files: dict[str, SeriesFile]

    @property
    def rels(self) -> list[str]:
        return [f"{s.category}/{s.name}" for s in self.labels]


Scores = dict[tuple[str, str], np.ndarray]  # (set, folder/file.csv) -> score per row


class DevSets:
    """The development sets, read once; scored per settings; evaluated on any part of the files."""

    def __init__(self, data: Path, work: Path, sets: tuple[str, ...] = SETS) -> None:
        self.nab = load_scorer()
        dirs = build(data, work, sets=sets)
        self.sets = {}
        for name, d in dirs.items():
            labels = self.nab.load_series(str(d))
            files = {f"{s.category}/{s.name}": read_series(d / s.category / s.name) for s in labels}
            self.sets[name] = DevSet(name, labels, files)

    @property
    def rels(self) -> list[str]:
        return self.sets[next(iter(self.sets))].rels

    def rows(self) -> int:
        return sum(len(f.values) for s in self.sets.values() for f in s.files.values())

    def score(self, settings: DetectorSettings) -> Scores:
        out: Scores = {}
        for name, dev in self.sets.items():
            for rel, series in dev.files.items():
                scored = score_file(series, settings).scores
                out[(name, rel)] = np.array([0.0 if s is None else s for s in scored])
        return out

    def evaluate(self, scores: Scores, part: set[str], sets: tuple[str, ...]) -> dict[str, float]:
        """NAB score per profile of the files in `part` of the given sets, pooled: one threshold for
        all of them (as the acceptance test chooses one threshold for all its series)."""
        chosen = [
            (name, s) for name in sets for s in self.sets[name].labels if f"{s.category}/{s.name}" in part
        ]
        series = [s for _, s in chosen]
        arrays = [scores[(name, f"{s.category}/{s.name}")] for name, s in chosen]
        out = {}
        for p in PROFILES:
            prof = self.nab.PROFILES[p]
            _, totals, n_windows = self.nab.sweep(series, arrays, prof)
            out[p] = (
                float(self.nab.normalise(float(np.max(totals)), n_windows, prof))
                if n_windows
                else float("nan")
            )
        return out

    def false_alarms(self, scores: Scores, name: str, threshold: float) -> tuple[float, float]:
        """Flags per series per week after NAB's probation, on the anomaly-free synthetic series and on
        the real series outside their labelled windows (and the day after each)."""
        rates: dict[str, list[float]] = {"clean": [], "real": []}
        dev = self.sets[name]
        for s in dev.labels:
            rel = f"{s.category}/{s.name}"
            f = dev.files[rel]
            keep = (np.arange(s.n) >= s.probation) & f.usable
            if rel.startswith("artificialNoAnomaly"):
                kind = "clean"
            elif rel.startswith("realAWSCloudwatch"):
                kind = "real"
                after = np.zeros(s.n, dtype=bool)
                for i in np.flatnonzero(s.window >= 0):
                    after[(f.timestamps >= f.timestamps[i]) & (f.timestamps <= f.timestamps[i] + 86400.0)] = (
                        True
                    )
                keep &= (s.window < 0) & ~after
            else:
                continue
            step = float(np.nanmedian(np.diff(f.timestamps[f.usable])))
            weeks = keep.sum() * step / WEEK_SECONDS
            rates[kind].append(float((scores[(name, rel)][keep] >= threshold).sum()) / max(weeks, 1e-9))
        return statistics.mean(rates["clean"]), statistics.mean(rates["real"])


def folds(rels: list[str]) -> dict[str, tuple[set[str], set[str]]]:
    """Four ways to choose on one part and report on another: leave one folder out each way, and a
    file-level split of realAWSCloudwatch each way (sorted by name, even against odd positions)."""
    art = {r for r in rels if r.startswith("artificial")}
    aws = sorted(r for r in rels if r.startswith("realAWSCloudwatch"))
    even, odd = set(aws[0::2]), set(aws[1::2])
    return {
        "A (art -> aws)": (art, set(aws)),
        "A' (aws -> art)": (set(aws), art),
        "B (art+even -> odd)": (art | even, odd),
        "B' (art+odd -> even)": (art | odd, even),
    }
