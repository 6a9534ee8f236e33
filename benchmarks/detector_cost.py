"""Cost of the detector: streaming cost per point, one new point for each of N series, memory.

    .venv/bin/python benchmarks/detector_cost.py [--series 10000] [--history 200]

One process. Bootstraps N synthetic 5-minute series (daily cycle + noise, `--history` points each)
through one AnomalyDetector sharing one forest, then times `score_many` with one new point per
series, and a single series scored point by point. Prints peak RSS and state bytes per series.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.api import AnomalyDetector  # noqa: E402
from detectors.series import MetricSeries  # noqa: E402
from detectors.settings import DetectorSettings  # noqa: E402

T0 = datetime(2026, 1, 5, tzinfo=UTC)
STEP = timedelta(minutes=5)


def series(key: str, n: int, rng: np.random.Generator) -> MetricSeries:
    level, amp, noise = rng.uniform(1, 1000), rng.uniform(0, 0.3), rng.uniform(0.01, 0.1)
    i = np.arange(n)
    values = level * (1 + amp * np.sin(2 * np.pi * i / 288) + noise * rng.standard_normal(n))
    return MetricSeries(key=key, timestamps=[T0 + k * STEP for k in range(n)], values=values.tolist())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--history", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3, help="timed score_many rounds (one new point each)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    settings = DetectorSettings()
    with tempfile.TemporaryDirectory() as tmp:
        det = AnomalyDetector(settings, data_dir=Path(tmp))
        total = args.history + args.rounds + 1
        all_series = [series(f"bench/{i}", total, rng) for i in range(args.series)]

        def upto(s: MetricSeries, n: int) -> MetricSeries:
            return MetricSeries(key=s.key, timestamps=s.timestamps[:n], values=s.values[:n])

        started = time.perf_counter()
        for lo in range(0, args.series, 1000):
            chunk = [upto(s, args.history) for s in all_series[lo : lo + 1000]]
            det.score_many(chunk, chunk[0].timestamps[-1])
        bootstrap = time.perf_counter() - started
        print(
            f"bootstrap: {args.series} series x {args.history} points in {bootstrap:.1f} s "
            f"({1e6 * bootstrap / (args.series * args.history):.0f} us/point, includes forest fits)"
        )

        walls = []
        for r in range(args.rounds):
            n = args.history + r + 1
            batch = [upto(s, n) for s in all_series]
            now = batch[0].timestamps[-1]
            t = time.perf_counter()
            results = det.score_many(batch, now)
            walls.append(time.perf_counter() - t)
            assert sum(x.status == "ok" for x in results) == args.series
        print(
            f"one new point for each of {args.series} series (score_many): "
            f"{statistics.median(walls):.2f} s median of {args.rounds} "
            f"({1e6 * statistics.median(walls) / args.series:.0f} us/series; "
            f"rounds {', '.join(f'{w:.2f}' for w in walls)})"
        )

        # One series, one point per call (the streaming case: no batching across series).
        extra = [series("bench/stream", 600, np.random.default_rng(1))]
        det.score(upto(extra[0], 300), extra[0].timestamps[299])
        t = time.perf_counter()
        for n in range(301, 601):
            det.score(upto(extra[0], n), extra[0].timestamps[n - 1])
        per_call = (time.perf_counter() - t) / 300
        print(
            f"streaming one series, one point per score() call: {1e6 * per_call:.0f} us/point "
            "(builds the request, features, one forest call, calibration, explanation)"
        )

        sizes = [det.state_bytes(s.key) for s in all_series[:1000]]
        pickled = [
            len(pickle.dumps(det._states[s.key], protocol=pickle.HIGHEST_PROTOCOL)) for s in all_series[:100]
        ]
        print(
            f"state per series: {statistics.mean(sizes) / 1024:.1f} KiB in memory (arrays), "
            f"{statistics.mean(pickled) / 1024:.1f} KiB pickled; {len(det)} series kept"
        )
        t = time.perf_counter()
        path = det.save()
        print(f"save: {path.stat().st_size / 2**20:.1f} MiB in {time.perf_counter() - t:.1f} s")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
