"""Cost of the detector: one new point for each of N series, one `score()` call, state size, and
streaming throughput.

    .venv/bin/python benchmarks/detector_cost.py [--series 10000] [--history 300] [--rounds 5]

One process. Bootstraps N synthetic 5-minute series (daily cycle + noise, `--history` points each)
through one AnomalyDetector, then times `score_many` with one new point per series (the sweep and
the detect stage hand the detector a whole history each time; only its new points are scored), and
a single series scored one point per `score()` call. Prints state bytes per series and peak RSS.
Streaming throughput per point (backtest, refits included) is measured by `benchmarks/nab.py`.
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


def values(n: int, rng: np.random.Generator) -> list[float]:
    level, amp, noise = rng.uniform(1, 1000), rng.uniform(0, 0.3), rng.uniform(0.01, 0.1)
    i = np.arange(n)
    return (level * (1 + amp * np.sin(2 * np.pi * i / 288) + noise * rng.standard_normal(n))).tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--history", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5, help="timed score_many rounds (one new point each)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    total = args.history + args.rounds
    stamps = [T0 + k * STEP for k in range(total + 600)]
    data = [values(total, rng) for _ in range(args.series)]
    with tempfile.TemporaryDirectory() as tmp:
        det = AnomalyDetector(DetectorSettings(), data_dir=Path(tmp))
        det.score(MetricSeries("warm-up", stamps[:10], data[0][:10]), stamps[9])  # compiles the kernel

        def batch(n: int) -> list[MetricSeries]:
            return [MetricSeries(f"bench/{i}", stamps[:n], d[:n]) for i, d in enumerate(data)]

        started = time.perf_counter()
        det.score_many(batch(args.history), stamps[args.history - 1])
        bootstrap = time.perf_counter() - started
        points = args.series * args.history
        print(
            f"cold start: {args.series} series x {args.history} points in {bootstrap:.2f} s "
            f"({1e6 * bootstrap / points:.1f} us/point, forest fits and request handling included)"
        )
        walls, cpus = [], []
        for r in range(args.rounds):
            n = args.history + r + 1
            histories = batch(n)  # built outside the timing: the fetch's job
            t, c = time.perf_counter(), time.process_time()
            results = det.score_many(histories, stamps[n - 1])
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)  # what a busy machine does not inflate
            assert sum(x.status == "ok" for x in results) == args.series
        print(
            f"one new point for each of {args.series} series (score_many): "
            f"median {statistics.median(walls):.3f} s of {args.rounds} rounds "
            f"(min {min(walls):.3f}, max {max(walls):.3f}; "
            f"{1e6 * statistics.median(walls) / args.series:.0f} us/series); "
            f"CPU time median {statistics.median(cpus):.3f} s (min {min(cpus):.3f}, max {max(cpus):.3f})"
        )

        single = values(900, np.random.default_rng(1))
        det.score(MetricSeries("bench/stream", stamps[:300], single[:300]), stamps[299])
        calls = []
        for n in range(301, 901):
            history = MetricSeries("bench/stream", stamps[:n], single[:n])
            t = time.perf_counter()
            det.score(history, stamps[n - 1])
            calls.append(time.perf_counter() - t)
        calls.sort()
        print(
            "one score() call with one new point (600 calls on a 300-900-point history): "
            f"median {1e6 * statistics.median(calls):.0f} us, "
            f"p99 {1e6 * calls[int(0.99 * len(calls))]:.0f} us, max {1e6 * calls[-1]:.0f} us"
        )
        sizes = [det.state_bytes(f"bench/{i}") for i in range(min(args.series, 1000))]
        pickled = [
            len(pickle.dumps(det._states[f"bench/{i}"], protocol=5)) for i in range(min(args.series, 100))
        ]
        print(
            f"state per series: {statistics.mean(sizes) / 1000:.1f} kB in memory "
            f"(max {max(sizes) / 1000:.1f}), "
            f"{statistics.mean(pickled) / 1000:.1f} kB pickled"
        )
        t = time.perf_counter()
        path = det.save()
        print(f"save: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t:.1f} s")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
