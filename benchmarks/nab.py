"""NAB benchmark of the detector's shipped defaults on the 28 development series.

    .venv/bin/python benchmarks/nab.py [--data ../shared/data/nab] [--seeds 0 1 2] [--out var/bench/nab]

Every series goes through `detectors.backtest.score_file`, the function `conductor backtest` runs,
and is scored with the NAB scorer (`benchmarks/nab_score.py`). Prints the scores per seed, the
streaming cost per point (refits included) and the false alarms per series and week at several
thresholds (on the 5 anomaly-free series, and on the real series outside their labelled windows).
It writes the files `conductor backtest` would write under `--out`.

The development protocol (choosing settings on one part, reporting on another, over the derived
sets too) is `benchmarks/nab_cv.py`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.nab_sets import PROFILES, DevSets  # noqa: E402
from detectors.backtest import write_scores  # noqa: E402
from detectors.settings import DetectorSettings  # noqa: E402

THRESHOLDS = (0.99, 0.995, 0.999, 0.9995, 0.9999)


def default_run(dev: DevSets, seeds: list[int], out: Path) -> None:
    original = dev.sets["original"]
    everything = set(dev.rels)
    reports = {}
    for seed in seeds:
        started = time.perf_counter()
        scores = dev.score(DetectorSettings(seed=seed))
        seconds = time.perf_counter() - started
        rows = dev.rows()
        for rel, series in original.files.items():  # the files `conductor backtest` would write
            write_scores(series, [float(v) for v in scores[("original", rel)]], out / f"seed{seed}" / rel)
        report = dev.evaluate(scores, everything, ("original",))
        reports[seed] = (report, scores)
        line = " ".join(f"{p}={report[p]:.2f}" for p in PROFILES)
        print(f"seed {seed}: {line}  [{rows} rows in {seconds:.1f} s, {1e6 * seconds / rows:.1f} us/point]")
    print()
    print("| profile | mean | min-max |")
    print("| --- | ---: | ---: |")
    for p in PROFILES:
        v = [reports[s][0][p] for s in seeds]
        print(f"| {p} | {statistics.mean(v):.1f} | {min(v):.1f}-{max(v):.1f} |")
    print()
    print("False alarms per series per week (after probation), mean over seeds:")
    print("| threshold | anomaly-free synthetic series | real series, outside labelled windows (+1 day) |")
    print("| ---: | ---: | ---: |")
    for th in THRESHOLDS:
        pairs = [dev.false_alarms(reports[s][1], "original", th) for s in seeds]
        clean = statistics.mean(c for c, _ in pairs)
        real = statistics.mean(r for _, r in pairs)
        print(f"| {th} | {clean:.2f} | {real:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "nab")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "nab")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    default_run(DevSets(args.data, args.out / "sets", ("original",)), args.seeds, args.out)


if __name__ == "__main__":
    main()
