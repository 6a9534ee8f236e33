"""NAB benchmark of the detector: backtest every series, score with NAB's scorer, over several seeds.

    .venv/bin/python benchmarks/nab.py [--data ../shared/data/nab] [--seeds 0 1 2] [--out var/bench/nab]

One process, one series at a time (the machine is shared). Prints the NAB scores per seed and their
spread; the printed table is what benchmarks/RESULTS.md records ("## Detector").
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.backtest import backtest_file  # noqa: E402
from detectors.settings import DetectorSettings  # noqa: E402

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
PUBLISHED = [  # from ../shared/data/nab/README.md: same subset, same scorer
    ("ARTime", 69.8, 60.0, 75.2),
    ("Numenta HTM", 72.3, 69.1, 76.0),
    ("CAD OSE", 71.6, 67.2, 75.5),
    ("KNN CAD", 57.0, 46.6, 62.1),
    ("earthgecko Skyline", 55.1, 43.2, 60.8),
    ("Random Cut Forest", 53.7, 44.9, 60.1),
    ("Relative Entropy", 50.1, 42.9, 53.7),
    ("Twitter ADVec", 41.2, 23.5, 49.7),
    ("Windowed Gaussian", 26.5, 2.2, 37.1),
    ("random scores", 20.8, 7.7, 29.5),
]


def run_seed(
    data: Path, out: Path, seed: int, settings: DetectorSettings
) -> tuple[dict[str, Any], float, int]:
    files = sorted(data.glob("*/*.csv"))
    rows = 0
    started = time.perf_counter()
    for path in files:
        summary = backtest_file(
            path, out / path.parent.name, settings=settings.model_copy(update={"seed": seed})
        )
        rows += summary.rows
    seconds = time.perf_counter() - started
    scorer = ROOT.parent / "shared" / "tools" / "nab_score.py"
    if not scorer.exists():
        scorer = data.parent.parent / "tools" / "nab_score.py"
    report = json.loads(
        subprocess.run(
            [sys.executable, str(scorer), "--data", str(data), "--results", str(out), "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return report, seconds, rows


def table(reports: dict[int, Any]) -> str:
    seeds = sorted(reports)
    cats = sorted(next(iter(reports.values()))["standard"]["categories"])
    lines = ["| detector | standard | low FP | low FN |", "| --- | ---: | ---: | ---: |"]
    vals = {p: [reports[s][p]["score"] for s in seeds] for p in PROFILES}
    cells = [f"**{statistics.mean(vals[p]):.1f}** ({min(vals[p]):.1f}-{max(vals[p]):.1f})" for p in PROFILES]
    lines.append(f"| **Cloud Conductor** (mean of seeds {seeds}, min-max) | " + " | ".join(cells) + " |")
    for name, *scores in PUBLISHED:
        lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in scores) + " |")
    lines += ["", "Per folder (mean over seeds, at each profile's corpus-wide threshold):", ""]
    lines += ["| folder | standard | low FP | low FN |", "| --- | ---: | ---: | ---: |"]
    for cat in cats:
        row = []
        for p in PROFILES:
            v = [reports[s][p]["categories"][cat] for s in seeds]
            row.append("n/a (no windows)" if any(x is None for x in v) else f"{statistics.mean(v):.1f}")
        lines.append(f"| {cat} | " + " | ".join(row) + " |")
    lines += ["", "Per seed (standard / low FP / low FN, and the optimised thresholds):", ""]
    for s in seeds:
        r = reports[s]
        sc = " / ".join(f"{r[p]['score']:.2f}" for p in PROFILES)
        th = " / ".join(f"{r[p]['threshold']:.6f}" for p in PROFILES)
        lines.append(f"- seed {s}: {sc} (thresholds {th})")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "nab")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "nab")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--json", type=Path, help="also write the raw reports here")
    args = ap.parse_args()
    settings = DetectorSettings()
    reports: dict[int, Any] = {}
    for seed in args.seeds:
        report, seconds, rows = run_seed(args.data, args.out / f"seed{seed}", seed, settings)
        reports[seed] = report
        scores = " ".join(f"{p}={report[p]['score']:.2f}" for p in PROFILES)
        print(f"seed {seed}: {scores}  ({rows} rows in {seconds:.1f} s, {1e6 * seconds / rows:.0f} us/point)")
        sys.stdout.flush()
    print()
    print(table(reports))
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
