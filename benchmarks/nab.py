"""NAB benchmark of the detector, with the development protocol.

    .venv/bin/python benchmarks/nab.py [--data ../shared/data/nab] [--seeds 0 1 2] [--out var/bench/nab]
    .venv/bin/python benchmarks/nab.py --protocol      # choose settings on one part, report on another

Every series goes through `detectors.backtest.score_file`, the function `conductor backtest` runs,
and is scored with the NAB scorer (`../shared/tools/nab_score.py`, loaded as a module).

Default run: the shipped settings on all 28 development series, per seed, plus the false alarms per
series and week at several thresholds (on the 5 anomaly-free series, and on the real series outside
their labelled windows).

`--protocol`: the settings listed in GRID are chosen by the mean of the standard and low-FP scores
(mean over the seeds) on a tuning part, and reported on a part they were not chosen on:
  fold A - tune on the artificial series, test on realAWSCloudwatch;
  fold B - tune on the artificial series and every other realAWSCloudwatch file (sorted by name,
           even positions), test on the rest (odd positions). The shipped defaults are fold B's choice.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.backtest import score_file, write_scores  # noqa: E402
from detectors.series_csv import read_series  # noqa: E402
from detectors.settings import DetectorSettings  # noqa: E402

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
# The settings the protocol chooses (everything else keeps its principled default, see docs/detector.md).
GRID: dict[str, list[Any]] = {
    "smoothing_points": [3, 6, 12],
    "calibration_horizon": [512, 2016, 8064],
    "refractory_points": [72, 144, 288],
}
THRESHOLDS = (0.99, 0.995, 0.999, 0.9995, 0.9999)
WEEK_SECONDS = 7 * 86400.0


def load_scorer(data: Path) -> ModuleType:
    path = ROOT.parent / "shared" / "tools" / "nab_score.py"
    if not path.exists():
        path = data.parent.parent / "tools" / "nab_score.py"
    spec = importlib.util.spec_from_file_location("nab_score", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["nab_score"] = module
    spec.loader.exec_module(module)
    return module


class Corpus:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.nab = load_scorer(data)
        self.series = self.nab.load_series(str(data))
        self.rel = [f"{s.category}/{s.name}" for s in self.series]
        self.files = {rel: read_series(data / rel) for rel in self.rel}

    def scores(self, settings: DetectorSettings) -> tuple[dict[str, np.ndarray], float, int]:
        started = time.perf_counter()
        out = {}
        for rel, series in self.files.items():
            scored = score_file(series, settings).scores
            out[rel] = np.array([0.0 if s is None else s for s in scored])
        return out, time.perf_counter() - started, sum(len(f.values) for f in self.files.values())

    def evaluate(self, scores: dict[str, np.ndarray], part: set[str]) -> dict[str, Any]:
        chosen = [s for s, rel in zip(self.series, self.rel, strict=True) if rel in part]
        return self.nab.evaluate(chosen, [scores[f"{s.category}/{s.name}"] for s in chosen])  # type: ignore[no-any-return]

    def folds(self) -> dict[str, tuple[set[str], set[str]]]:
        art = {r for r in self.rel if r.startswith("artificial")}
        aws = sorted(r for r in self.rel if r.startswith("realAWSCloudwatch"))
        return {"A": (art, set(aws)), "B": (art | set(aws[0::2]), set(aws[1::2]))}

    def false_alarms(self, scores: dict[str, np.ndarray], threshold: float) -> tuple[float, float]:
        """Flags per series per week after NAB's probation: on the anomaly-free series, and on the real
        series outside their labelled windows (and not within a day after one)."""
        rates: dict[str, list[float]] = {"clean": [], "real": []}
        for s, rel in zip(self.series, self.rel, strict=True):
            f = self.files[rel]
            keep = np.arange(s.n) >= s.probation
            if rel.startswith("artificialNoAnomaly"):
                kind = "clean"
            elif rel.startswith("realAWSCloudwatch"):
                kind = "real"
                near = np.zeros(s.n, dtype=bool)
                for i in np.flatnonzero(s.window >= 0):
                    near[i : i + 289] = True
                keep &= ~near
            else:
                continue
            weeks = keep.sum() * float(np.nanmedian(np.diff(f.timestamps))) / WEEK_SECONDS
            rates[kind].append(float((scores[rel][keep] >= threshold).sum()) / max(weeks, 1e-9))
        return statistics.mean(rates["clean"]), statistics.mean(rates["real"])


def default_run(corpus: Corpus, seeds: list[int], out: Path) -> None:
    reports = {}
    for seed in seeds:
        settings = DetectorSettings(seed=seed)
        scores, seconds, rows = corpus.scores(settings)
        for rel, series in corpus.files.items():  # the files `conductor backtest` would write
            write_scores(series, [float(v) for v in scores[rel]], out / f"seed{seed}" / rel)
        report = corpus.evaluate(scores, set(corpus.rel))
        reports[seed] = (report, scores)
        line = " ".join(f"{p}={report[p]['score']:.2f} (th {report[p]['threshold']:.6f})" for p in PROFILES)
        print(f"seed {seed}: {line}  [{rows} rows in {seconds:.1f} s, {1e6 * seconds / rows:.1f} us/point]")
    print()
    print("| profile | mean | min-max |")
    print("| --- | ---: | ---: |")
    for p in PROFILES:
        v = [reports[s][0][p]["score"] for s in seeds]
        print(f"| {p} | {statistics.mean(v):.1f} | {min(v):.1f}-{max(v):.1f} |")
    print()
    print("False alarms per series per week (after probation), mean over seeds:")
    print("| threshold | anomaly-free synthetic series | real series, outside labelled windows (+1 day) |")
    print("| ---: | ---: | ---: |")
    for th in THRESHOLDS:
        pairs = [corpus.false_alarms(reports[s][1], th) for s in seeds]
        clean = statistics.mean(c for c, _ in pairs)
        real = statistics.mean(r for _, r in pairs)
        print(f"| {th} | {clean:.2f} | {real:.2f} |")


def protocol(corpus: Corpus, seeds: list[int]) -> None:
    folds = corpus.folds()
    table: list[tuple[dict[str, Any], dict[tuple[str, str, str], list[float]]]] = []
    for combo in itertools.product(*GRID.values()):
        kw = dict(zip(GRID, combo, strict=True))
        got: dict[tuple[str, str, str], list[float]] = {}
        for seed in seeds:
            scores, _, _ = corpus.scores(DetectorSettings(seed=seed, **kw))
            for fold, (tune, test) in folds.items():
                for part, rels in (("tune", tune), ("test", test)):
                    report = corpus.evaluate(scores, rels)
                    for p in PROFILES:
                        got.setdefault((fold, part, p), []).append(report[p]["score"])
        table.append((kw, got))
        cells = " ".join(
            f"{f}-{part}={statistics.mean(got[(f, part, 'standard')]):.1f}/"
            f"{statistics.mean(got[(f, part, 'reward_low_FP_rate')]):.1f}"
            for f in folds
            for part in ("tune", "test")
        )
        print(f"{kw}: {cells}")
        sys.stdout.flush()
    n_settings = len(GRID)
    print(f"\n{n_settings} settings chosen, {len(table)} combinations, seeds {seeds}\n")
    print(
        "| fold | chosen on | chosen settings | tune std / low FP | test std / low FP (min-max over seeds) |"
    )
    print("| --- | --- | --- | ---: | ---: |")
    for fold, (tune, test) in folds.items():

        def objective(
            row: tuple[dict[str, Any], dict[tuple[str, str, str], list[float]]], f: str = fold
        ) -> float:
            got = row[1]
            return statistics.mean(got[(f, "tune", "standard")]) + statistics.mean(
                got[(f, "tune", "reward_low_FP_rate")]
            )

        kw, got = max(table, key=objective)

        def cell(part: str, p: str, got: dict[tuple[str, str, str], list[float]] = got, f: str = fold) -> str:
            v = got[(f, part, p)]
            return f"{statistics.mean(v):.1f} ({min(v):.1f}-{max(v):.1f})"

        low_fp = "reward_low_FP_rate"
        tuned = f"{cell('tune', 'standard')} / {cell('tune', low_fp)}"
        tested = f"{cell('test', 'standard')} / {cell('test', low_fp)} ({len(test)} files)"
        print(f"| {fold} | {len(tune)} files | {kw} | {tuned} | {tested} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "nab")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "nab")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--protocol", action="store_true", help="run the development protocol (both folds)")
    args = ap.parse_args()
    corpus = Corpus(args.data)
    if args.protocol:
        protocol(corpus, args.seeds)
    else:
        default_run(corpus, args.seeds, args.out)


if __name__ == "__main__":
    main()
