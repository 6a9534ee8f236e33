"""Which isolation forest for one series: the options measured on the detector's own job.

    .venv/bin/python benchmarks/forest_options.py [--repeat 200]

The job (per series, see docs/detector.md): grow 32 trees of 64 rows from a 256-row reservoir of
5 features, refit once a day (288 points at 5 min); score one new row at a time (the live case)
or 288 rows (a day in a backtest); keep the fitted model in a series' state (budget: 50 KB for all of
it). Measured: fit time, single-row and 288-row scoring time, pickled model size. Options: this
repo's numba forest (`detectors.forest`), scikit-learn's IsolationForest (`score_samples`), and
isotree (C++) when it is installed (`pip install isotree`; not a dependency).
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TREES, SAMPLES = 32, 64


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of `repeat` calls (after one warm-up call)."""
    fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def numba_forest(reservoir: np.ndarray, rows: np.ndarray, repeat: int) -> tuple[float, float, float, int]:
    from detectors import forest as k
    from detectors import kernel
    from detectors.settings import DetectorSettings
    from detectors.stream import kernel_params

    params = kernel_params(DetectorSettings(n_trees=TREES, tree_samples=SAMPLES))
    state = kernel.KernelState.new(params)
    r32 = reservoir.astype(np.float32)

    def fit() -> None:
        k.fit_forest(r32, len(r32), state.tree_feat, state.tree_thr, state.iv, SAMPLES)

    fit()
    one = rows[0].astype(np.float32)
    day = rows.astype(np.float32)

    def score_day() -> None:
        for r in day:
            k.forest_score(r, state.tree_feat, state.tree_thr, float(SAMPLES))

    size = len(pickle.dumps((state.tree_feat, state.tree_thr)))
    return (
        timed(fit, repeat),
        timed(lambda: k.forest_score(one, state.tree_feat, state.tree_thr, float(SAMPLES)), repeat),
        timed(score_day, repeat),
        size,
    )


def sklearn_forest(reservoir: np.ndarray, rows: np.ndarray, repeat: int) -> tuple[float, float, float, int]:
    from sklearn.ensemble import IsolationForest

    def fit() -> IsolationForest:
        return IsolationForest(n_estimators=TREES, max_samples=SAMPLES, random_state=0).fit(reservoir)

    model = fit()
    return (
        timed(fit, max(5, repeat // 20)),
        timed(lambda: model.score_samples(rows[:1]), repeat),
        timed(lambda: model.score_samples(rows), repeat),
        len(pickle.dumps(model)),
    )


def isotree_forest(reservoir: np.ndarray, rows: np.ndarray, repeat: int) -> tuple[float, float, float, int]:
    from isotree import IsolationForest

    def fit() -> IsolationForest:
        return IsolationForest(ntrees=TREES, sample_size=SAMPLES, ndim=1, nthreads=1, random_seed=0).fit(
            reservoir
        )

    model = fit()
    return (
        timed(fit, max(5, repeat // 20)),
        timed(lambda: model.predict(rows[:1]), repeat),
        timed(lambda: model.predict(rows), repeat),
        len(pickle.dumps(model)),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    reservoir = rng.normal(size=(256, 5))
    rows = rng.normal(size=(288, 5))
    print("| option | fit (32 trees x 64 rows) | score 1 row | score 288 rows | pickled model |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, fn in (
        ("numba forest (detectors.forest)", numba_forest),
        ("scikit-learn IsolationForest", sklearn_forest),
        ("isotree IsolationForest (C++)", isotree_forest),
    ):
        try:
            fit, one, day, size = fn(reservoir, rows, args.repeat)
        except ImportError as exc:
            print(f"| {name} | not installed ({exc.name}) | | | |")
            continue
        cells = f"{1e3 * fit:.2f} ms | {1e6 * one:.1f} us | {1e3 * day:.2f} ms | {size / 1024:.1f} KiB"
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
