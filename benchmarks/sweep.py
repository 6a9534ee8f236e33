"""Anomaly sweep over many CloudWatch series served by moto: wall time, API calls, peak memory.

    .venv/bin/python benchmarks/sweep.py [--series 5000] [--points 288] [--moto indexed|stock]

1. Starts moto (server mode) in a subprocess, so this process's memory is the sweep's alone.
2. Writes `--series` metrics (namespace `Bench`, CPUUtilization by InstanceId) of `--points` 5-minute
   points each with PutMetricData, 1,000 datums per call (the API's limit), from 4 threads. Every
   1,000th series ends with an hour-long level shift (a planted anomaly).
3. Runs the anomaly sweep over them exactly as `conductor sweep run` would: ListMetrics to find the
   series (moto has no SEARCH), GetMetricData in batches of 500, the detector over every series, the
   anomalies stored as one raw event of source `sweep`.
4. Prints wall time (fetch and score separately), the API calls the CloudWatch source made (its
   `api_calls` counter) and the process's peak RSS before and after the sweep.
5. Writes three more points per series (15 minutes later) and runs the sweep again with the same,
   now warm, detector: the steady state inside `conductor serve`, where each run feeds the detector
   only the points it has not seen.

`--moto stock` serves GetMetricData and ListMetrics with moto's own code, which rescans every stored
datapoint for every query and every period (O(queries x periods x datapoints)): at 5,000 x 288 that is
~10^11 steps, so only small runs finish. `--moto indexed` (default) replaces those two backend methods
in the moto process with indexed equivalents (same answers, same wire format, same request handling);
everything on our side of the socket is unchanged.
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
NAMESPACE = "Bench"
PLANT_EVERY = 1000
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# --------------------------------------------------------------------------- moto (subprocess)


def _index_moto() -> None:
    """Indexed GetMetricData (MetricStat queries) and ListMetrics for moto's CloudWatch backend."""
    from moto.cloudwatch import models as cw

    original_get = cw.CloudWatchBackend.get_metric_data
    lock = threading.Lock()
    stats: dict[str, Callable[[list[float]], float]] = {
        "Average": lambda v: sum(v) / len(v),
        "Sum": sum,
        "Minimum": min,
        "Maximum": max,
        "SampleCount": lambda v: float(len(v)),
    }

    def key_of(namespace: str, name: str, dims: Any) -> tuple[Any, ...]:
        return (namespace, name, tuple(sorted((d.name, d.value) for d in dims)))

    def index(backend: Any) -> dict[tuple[Any, ...], tuple[list[float], list[float]]]:
        with lock:
            cached = getattr(backend, "_bench_index", None)
            if cached is not None and cached[0] == len(backend.metric_data):
                return cached[1]  # type: ignore[no-any-return]
            points: dict[tuple[Any, ...], list[tuple[float, float]]] = defaultdict(list)
            for md in backend.metric_data:
                if isinstance(md, cw.MetricDatum):
                    points[key_of(md.namespace, md.name, md.dimensions)].append(
                        (md.timestamp.timestamp(), md.value)
                    )
            built = {}
            for key, pts in points.items():
                pts.sort()
                built[key] = ([t for t, _ in pts], [v for _, v in pts])
            backend._bench_index = (len(backend.metric_data), built)
            return built

    def get_metric_data(self: Any, queries: Any, start_time: Any, end_time: Any, scan_by: str = "") -> Any:
        if any("MetricStat" not in q or q["MetricStat"]["Stat"] not in stats for q in queries):
            return original_get(self, queries, start_time, end_time, scan_by or "TimestampAscending")
        start = start_time.replace(microsecond=0).timestamp()
        end = end_time.replace(microsecond=0).timestamp()
        data = index(self)
        results = []
        for query in queries:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            dims = [cw.Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])]
            times, values = data.get(key_of(metric["Namespace"], metric["MetricName"], dims), ([], []))
            lo, hi = bisect.bisect_left(times, start), bisect.bisect_left(times, end)
            period = int(stat["Period"])
            buckets: dict[int, list[float]] = defaultdict(list)
            for t, v in zip(times[lo:hi], values[lo:hi], strict=True):
                buckets[int((t - start) // period)].append(v)
            slots = sorted(buckets)
            results.append(
                {
                    "id": query["Id"],
                    "label": query.get("Label") or f"{metric['MetricName']} {stat['Stat']}",
                    "values": [stats[stat["Stat"]](buckets[k]) for k in slots],
                    "timestamps": [datetime.fromtimestamp(start + k * period, tz=UTC) for k in slots],
                    "status_code": "Complete",
                }
            )
        if scan_by == "TimestampDescending":
            for result in results:
                result["values"].reverse()
                result["timestamps"].reverse()
        return results

    def get_filtered_metrics(self: Any, metric_name: str, namespace: str, dimensions: Any) -> Any:
        seen: set[tuple[Any, ...]] = set()
        found = []
        for md in self.get_all_metrics():
            if (namespace and md.namespace != namespace) or (metric_name and md.name != metric_name):
                continue
            if dimensions and any(
                cw.Dimension(d["Name"], d.get("Value")) not in md.dimensions for d in dimensions
            ):
                continue
            key = key_of(md.namespace, md.name, md.dimensions)
            if key not in seen:
                seen.add(key)
                found.append(md)
        return found

    cw.CloudWatchBackend.get_metric_data = get_metric_data  # type: ignore[method-assign]
    cw.CloudWatchBackend.get_filtered_metrics = get_filtered_metrics  # type: ignore[method-assign]


def serve_moto(port: int, indexed: bool) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
    if indexed:
        _index_moto()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    sys.stdin.read()  # until the parent closes our stdin
    server.stop()


def start_moto(indexed: bool) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    args = [sys.executable, __file__, "--serve-moto", str(port), "--moto", "indexed" if indexed else "stock"]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/moto-api/", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto did not start")


# --------------------------------------------------------------------------- data


def series_values(index: int, points: int) -> list[float]:
    rng = np.random.default_rng(index)
    level, amplitude, noise = rng.uniform(5, 80), rng.uniform(0, 0.3), rng.uniform(0.02, 0.08)
    i = np.arange(points)
    values = level * (1 + amplitude * np.sin(2 * np.pi * i / 288) + noise * rng.standard_normal(points))
    if index % PLANT_EVERY == 0:
        values[-12:] = level * 2.5  # the last hour: a level shift well outside the series' range
    return [round(float(v), 4) for v in values]


def write(series: int, points: int, *, new: int = 0, threads: int = 4) -> tuple[float, int]:
    """Each series' `points` points ending at NOW; with `new`, only the `new` points after NOW."""
    import boto3

    if new:
        stamps = [NOW + STEP * k for k in range(new)]
    else:
        stamps = [NOW - STEP * (points - k) for k in range(points)]
    local = threading.local()
    calls = Counter[str]()

    def client() -> Any:
        if not hasattr(local, "client"):
            from botocore.config import Config

            # Validating 1,000 datums costs as much as sending them; the shapes here are known good.
            local.client = boto3.client("cloudwatch", config=Config(parameter_validation=False))
        return local.client

    def datums(indexes: range) -> list[dict[str, Any]]:
        out = []
        for index in indexes:
            dims = [{"Name": "InstanceId", "Value": f"i-{index:06d}"}]
            values = series_values(index, points + new)[-len(stamps) :]
            for stamp, value in zip(stamps, values, strict=True):
                out.append(
                    {"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": stamp, "Value": value}
                )
        return out

    def put(indexes: range) -> None:
        batch = datums(indexes)
        for offset in range(0, len(batch), 1000):  # PutMetricData takes at most 1,000 datums
            client().put_metric_data(Namespace=NAMESPACE, MetricData=batch[offset : offset + 1000])
            calls["PutMetricData"] += 1

    per_chunk = 1000 // math.gcd(len(stamps), 1000)  # whole series per task, every call full
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, [range(i, min(i + per_chunk, series)) for i in range(0, series, per_chunk)]))
    return time.perf_counter() - started, calls["PutMetricData"]


# --------------------------------------------------------------------------- the sweep


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def sweep(series: int, points: int, workdir: Path) -> list[dict[str, Any]]:
    """The first (cold) run at NOW, then, after 15 minutes of new points, a second (warm) run."""
    from bot.config.loader import parse_settings
    from bot.store import migrate
    from bot.store.db import Store
    from bot.sweeps.runner import SweepContext, run_sweep
    from bot.sweeps.sources import SweepSources
    from integrations.aws.cloudwatch_metrics import CloudWatchMetricSource

    selector = {"namespace": NAMESPACE, "metric": "CPUUtilization", "dimension_names": ["InstanceId"]}
    sweep = {"name": "bench", "kind": "anomaly", "lookback_minutes": points * 5, "cloudwatch": [selector]}
    settings = parse_settings(
        {"data_dir": str(workdir), "cloudwatch": {"selection": "list_metrics"}, "sweeps": [sweep]}, {}
    )
    store = Store.connect(settings.database_url())
    migrate.upgrade(store)
    source = CloudWatchMetricSource(settings.cloudwatch, aws=settings.aws)
    context = SweepContext(settings, store, SweepSources(settings, cloudwatch=source))
    planted = {f"i-{i:06d}" for i in range(0, series, PLANT_EVERY)}

    def measure(now: datetime, *, cold: bool) -> dict[str, Any]:
        marks: dict[str, tuple[float, float]] = {}  # step -> (wall clock, this process's CPU time)

        def progress(step: str, done: int, total: int) -> None:
            marks.setdefault(step, (time.perf_counter(), time.process_time()))

        calls_before = Counter(source.api_calls)
        rss_before = max_rss_mb()
        progress("start", 0, 1)
        report = run_sweep("bench", context=context, now=now, progress=progress)
        progress("end", 1, 1)
        start, fetched, scored, end = (
            marks.get(k, marks["end"]) for k in ("start", "fetched", "scored", "end")
        )
        found = {f["resource"]["id"] for f in report.findings}
        calls = Counter(source.api_calls) - calls_before
        result = {
            "status": report.status,
            "series_scanned": report.series_scanned,
            "points": report.details.get("points"),
            "wall_s": end[0] - start[0],
            "fetch_s": fetched[0] - start[0],
            "fetch_cpu_s": fetched[1] - start[1],  # the rest of the fetch is waiting for moto
            "score_s": scored[0] - fetched[0],
            "store_s": end[0] - scored[0],
            "api_calls": dict(calls),
            "api_calls_total": sum(calls.values()),
            "rss_before_mb": rss_before,
            "rss_peak_mb": max_rss_mb(),
            "findings": len(report.findings),
            "scored": report.details.get("scored"),
        }
        if cold:  # 15 minutes on, the planted shifts are old news to the detector (see docs/sweeps.md)
            result["planted_found"] = f"{len(planted & found)}/{len(planted)}"
        return result

    cold = measure(NOW, cold=True)
    write_s, put_calls = write(series, points, new=3)
    print(f"wrote 3 new points per series in {write_s:.1f}s ({put_calls} PutMetricData calls)")
    warm = measure(NOW + 3 * STEP, cold=False)
    store.dispose()
    return [cold, warm]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=5000)
    parser.add_argument("--points", type=int, default=288, help="5-minute points per series (288 = 1 day)")
    parser.add_argument("--moto", choices=("indexed", "stock"), default="indexed")
    parser.add_argument("--serve-moto", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_moto:
        serve_moto(args.serve_moto, args.moto == "indexed")
        return
    proc, url = start_moto(args.moto == "indexed")
    os.environ.update(AWS_ENV)
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        write_s, put_calls = write(args.series, args.points)
        print(
            f"wrote {args.series} series x {args.points} points in {write_s:.1f}s "
            f"({put_calls} PutMetricData calls)"
        )
        with tempfile.TemporaryDirectory() as tmp:
            results = sweep(args.series, args.points, Path(tmp))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: the results matter more than a clean exit
            proc.kill()
    print(f"moto: {args.moto}")
    for title, result in zip(
        ("first run (cold detector)", "second run (warm detector)"), results, strict=True
    ):
        print(f"== {title}")
        for key, value in result.items():
            print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
