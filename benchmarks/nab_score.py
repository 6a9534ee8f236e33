#!/usr/bin/env python3
"""Score anomaly-detector output the way the Numenta Anomaly Benchmark (NAB v1.1) does.

Usage:
    nab_score.py --data DATA_DIR --results RESULTS_DIR [--json]

DATA_DIR holds <category>/<name>.csv series and labels/combined_windows.json.
RESULTS_DIR holds the detector output for every series, found as any of
    RESULTS_DIR/<category>/<name>.csv, RESULTS_DIR/<name>.csv, or
    RESULTS_DIR/<category>/<detector>_<name>.csv,
each with an `anomaly_score` column (one row per input row, in order, score in [0, 1]).

The NAB protocol, in short:
  * the first 15% of each series (at most 750 rows) is a probation period and is not scored;
  * every labelled anomaly window rewards its earliest detection with a weight that falls
    along a scaled sigmoid from +1 (window start) to ~0 (window end); a window without a
    detection costs -fn;
  * a detection outside every window costs fp times a weight that depends on its distance
    after the previous window (full cost far from any window, less just after one);
  * one threshold for the whole corpus is chosen to maximise the total, separately for each
    cost profile; the total is normalised so that detecting nothing scores 0 and detecting
    every window at its start scores 100.
Prints the normalised score per profile and per category (at the corpus-wide threshold).

A copy of `../shared/tools/nab_score.py` (lint fixes only), so that the benchmarks and their tests
run from the repository alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from dataclasses import dataclass
from datetime import datetime

import numpy as np

PROFILES = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}
PROBATION_SHARE = 0.15


def scaled_sigmoid(pos: np.ndarray) -> np.ndarray:
    """NAB's weight curve: 2*sigmoid(-5*pos) - 1, and -1 beyond 3 window-widths."""
    return np.where(pos > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * pos)) - 1.0)


@dataclass
class Series:
    category: str
    name: str
    n: int
    weight: np.ndarray  # per row: TP weight inside a window, FP weight outside (both unsigned by profile)
    window: np.ndarray  # per row: window index within the series, -1 outside
    probation: int


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().replace("Z", ""))


def load_series(data_dir: str) -> list[Series]:
    with open(os.path.join(data_dir, "labels", "combined_windows.json")) as fh:
        windows = json.load(fh)
    out = []
    max_tp = 2.0 / (1.0 + math.exp(-5.0)) - 1.0
    for rel in sorted(windows):
        path = os.path.join(data_dir, rel)
        if not os.path.exists(path):
            continue
        with open(path, newline="") as fh:
            stamps = [_parse_ts(row["timestamp"]) for row in csv.DictReader(fh)]
        n = len(stamps)
        index = {t: i for i, t in enumerate(stamps)}
        bounds = sorted((index[_parse_ts(a)], index[_parse_ts(b)]) for a, b in windows[rel])
        weight = np.full(n, -1.0)
        window = np.full(n, -1, dtype=int)
        rows = np.arange(n)
        prev_end: int | None = None
        prev_width = 0.0
        cursor = 0
        for k, (start, end) in enumerate([*bounds, (n, n)]):
            outside = slice(cursor, start)
            if prev_end is not None:
                weight[outside] = scaled_sigmoid(np.abs(prev_end - rows[outside]) / (prev_width - 1.0))
            if start >= n:
                break
            width = float(end - start + 1)
            inside = slice(start, end + 1)
            weight[inside] = scaled_sigmoid(-(end - rows[inside] + 1) / width) / max_tp
            window[inside] = k
            prev_end, prev_width, cursor = end, width, end + 1
        category, name = rel.split("/", 1)
        probation = int(min(math.floor(PROBATION_SHARE * n), PROBATION_SHARE * 5000))
        out.append(Series(category, name, n, weight, window, probation))
    return out


def load_scores(results_dir: str, s: Series) -> np.ndarray:
    candidates = [
        os.path.join(results_dir, s.category, s.name),
        os.path.join(results_dir, s.name),
    ]
    folder = os.path.join(results_dir, s.category)
    if os.path.isdir(folder):
        candidates += [os.path.join(folder, f) for f in os.listdir(folder) if f.endswith("_" + s.name)]
    for path in candidates:
        if os.path.exists(path):
            with open(path, newline="") as fh:
                scores = np.array([float(r["anomaly_score"]) for r in csv.DictReader(fh)])
            if len(scores) != s.n:
                sys.exit(f"{path}: {len(scores)} rows, expected {s.n}")
            if not np.all(np.isfinite(scores)):
                sys.exit(f"{path}: non-finite anomaly_score")
            return scores
    sys.exit(f"no result file for {s.category}/{s.name} under {results_dir}")


def sweep(
    series: list[Series], scores: list[np.ndarray], prof: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Total raw score for every candidate threshold (detection iff score >= threshold)."""
    vals, wids, gains = [], [], []
    n_windows = 0
    offset = 0
    for s, sc in zip(series, scores, strict=True):
        keep = slice(s.probation, s.n)
        win = s.window[keep]
        n_windows += len(np.unique(win[win >= 0]))
        vals.append(sc[keep])
        wids.append(np.where(win >= 0, win + offset, -1))
        gains.append(np.where(win >= 0, s.weight[keep] * prof["tp"], s.weight[keep] * prof["fp"]))
        offset += int(s.window.max()) + 1 if s.window.max() >= 0 else 0
    v = np.concatenate(vals)
    w = np.concatenate(wids)
    g = np.concatenate(gains)
    order = np.argsort(-v, kind="stable")
    v, w, g = v[order], w[order], g[order]
    delta = np.where(w < 0, g, 0.0)
    # Inside a window only the best (earliest) detection counts: the window's contribution
    # is the running maximum of its detected weights, starting from the miss cost -fn.
    best = {}
    for i in np.nonzero(w >= 0)[0]:
        prev = best.get(w[i], -prof["fn"])
        if g[i] > prev:
            delta[i] = g[i] - prev
            best[w[i]] = g[i]
    base = -prof["fn"] * n_windows
    totals = base + np.cumsum(delta)
    last_of_tie = np.r_[v[1:] != v[:-1], True]
    thresholds = np.r_[np.inf, v[last_of_tie]]
    return thresholds, np.r_[base, totals[last_of_tie]], n_windows


def normalise(raw: float, n_windows: int, prof: dict[str, float]) -> float:
    null, perfect = -prof["fn"] * n_windows, prof["tp"] * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def evaluate(series: list[Series], scores: list[np.ndarray]) -> dict:
    report: dict = {}
    categories = sorted({s.category for s in series})
    for pname, prof in PROFILES.items():
        thresholds, totals, n_windows = sweep(series, scores, prof)
        k = int(np.argmax(totals))
        threshold = float(thresholds[k])
        entry = {
            "score": round(normalise(float(totals[k]), n_windows, prof), 2),
            "threshold": threshold,
            "windows": n_windows,
            "categories": {},
        }
        for cat in categories:
            idx = [i for i, s in enumerate(series) if s.category == cat]
            th, tot, nw = sweep([series[i] for i in idx], [scores[i] for i in idx], prof)
            at = np.nonzero(th >= threshold)[0][-1]
            entry["categories"][cat] = round(normalise(float(tot[at]), nw, prof), 2) if nw else None
        report[pname] = entry
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args()
    series = load_series(args.data)
    if not series:
        sys.exit(f"no labelled series under {args.data}")
    scores = [load_scores(args.results, s) for s in series]
    report = evaluate(series, scores)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for pname, entry in report.items():
        cats = "  ".join(f"{c}={v}" for c, v in entry["categories"].items())
        print(f"{pname:20s} {entry['score']:7.2f}   {cats}")


if __name__ == "__main__":
    main()
