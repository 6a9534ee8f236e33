"""Big group (issue 13, finding 9): webhook latency while a 13,000-alert Alertmanager group is processed.

    .venv/bin/python benchmarks/big_group.py [--alerts 13000] [--runs 3] [--probes 4] [--interval 0.05]
                                             [--repo PATH]

Per run: starts `conductor serve` (SQLite, defaults, `[ingest] max_body_bytes` raised to take the
group) with a fresh data dir; `--probes` clients each send a small generic webhook every
`--interval` seconds; after one second one client POSTs a single Alertmanager delivery of
`--alerts` firing alerts; the probes go on until the workers have applied the whole group (its
raw event is `done`) and a second more. Reported: the probes' latency while the group was being
processed (from its 202 to its last alert applied): count, p50, p99, max, and non-202 answers
(misses); the group's own answer time and processing time.

`--repo` runs `conductor serve` from another checkout (e.g. a `git worktree` of an older commit)
with this checkout's virtualenv, for a before/after. Exit status 1 if a probe missed (non-202 or
an error) or the group was not fully processed.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def group_body(n: int) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "KubePodNotReady",
                "namespace": f"ns-{i % 40}",
                "pod": f"pod-{i}",
                "severity": "warning",
            },
            "annotations": {"summary": "Pod has been in a non-ready state for more than 15 minutes."},
            "startsAt": "2026-11-23T02:55:00Z",
            "fingerprint": f"{i:016x}",
        }
        for i in range(n)
    ]
    return json.dumps(
        {"version": "4", "groupKey": '{}:{alertname="KubePodNotReady"}', "alerts": alerts}
    ).encode()


@dataclass
class Probes:
    url: str
    interval: float
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # (sent at, seconds, status)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, index: int) -> None:
        n = 0
        with httpx.Client(timeout=60) as http:
            while not self.stop.is_set():
                n += 1
                body = {
                    "id": f"p{index}-{n}",
                    "name": "Probe",
                    "status": "firing",
                    "fingerprint": f"p{index}-{n}",
                }
                sent = time.monotonic()
                try:
                    status = http.post(f"{self.url}/webhooks/generic", json=body).status_code
                except httpx.HTTPError:
                    status = -1
                took = time.monotonic() - sent
                with self.lock:
                    self.samples.append((sent, took, status))
                self.stop.wait(max(0.0, self.interval - took))


def raw_event_status(database: Path, raw_id: int) -> str:
    with sqlite3.connect(database, timeout=30) as connection:
        row = connection.execute("SELECT status FROM raw_events WHERE id = ?", (raw_id,)).fetchone()
    return str(row[0]) if row else "missing"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_run(args: argparse.Namespace, body: bytes) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="big-group-") as tmp:
        data = Path(tmp) / "var"
        config = Path(tmp) / "config.toml"
        config.write_text(f'data_dir = "{data}"\n[ingest]\nmax_body_bytes = {len(body) + 1024}\n')
        port = free_port()
        log = (Path(tmp) / "serve.log").open("wb")
        env = {**os.environ, "PYTHONPATH": str(args.repo)}
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--config", str(config), "--port", str(port)],
            cwd=args.repo,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            probes = Probes(url, args.interval)
            threads = [threading.Thread(target=probes.run, args=(i,)) for i in range(args.probes)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            posted = time.monotonic()
            answer = httpx.post(
                f"{url}/webhooks/alertmanager",
                content=body,
                headers={"content-type": "application/json"},
                timeout=120,
            )
            acknowledged = time.monotonic()
            assert answer.status_code == 202, answer.text
            raw_id = int(answer.json()["raw_event_id"])
            while raw_event_status(data / "conductor.sqlite3", raw_id) == "pending":
                if time.monotonic() - acknowledged > args.max_seconds:
                    break
                time.sleep(0.05)
            processed = time.monotonic()
            done = raw_event_status(data / "conductor.sqlite3", raw_id) == "done"
            time.sleep(1.0)
            probes.stop.set()
            for t in threads:
                t.join()
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()
    during = [
        (took, status) for sent, took, status in probes.samples if posted <= sent + took and sent <= processed
    ]
    if args.verbose:
        slowest = sorted(probes.samples, key=lambda s: -s[1])[:8]
        print(
            "  slowest probes (sent after the group's POST, took), s:",
            [(round(s - posted, 2), round(t, 2)) for s, t, _ in slowest],
        )
    latencies = [took for took, _status in during]
    return {
        "probes": float(len(during)),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": percentile(latencies, 0.99) if latencies else float("nan"),
        "max": max(latencies) if latencies else float("nan"),
        "misses": float(sum(1 for _t, status in during if status != 202)),
        "all_misses": float(sum(1 for _s, _t, status in probes.samples if status != 202)),
        "group_answer": acknowledged - posted,
        "group_processing": processed - acknowledged,
        "processed": 1.0 if done else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=13_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--probes", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--verbose", action="store_true", help="print the slowest probes of each run")
    args = parser.parse_args()
    body = group_body(args.alerts)
    print(f"group: {args.alerts} alerts, {len(body) / 1024 / 1024:.1f} MiB; repo {args.repo}")
    results = []
    for run in range(1, args.runs + 1):
        result = one_run(args, body)
        results.append(result)
        print(
            f"run {run}: probes {result['probes']:.0f} during processing, "
            f"p50 {result['p50'] * 1000:.1f} ms, p99 {result['p99'] * 1000:.1f} ms, "
            f"max {result['max'] * 1000:.1f} ms, misses {result['misses']:.0f} "
            f"(whole run {result['all_misses']:.0f}); group answered in {result['group_answer']:.2f} s, "
            f"processed in {result['group_processing']:.1f} s"
            + ("" if result["processed"] else " (NOT FINISHED)"),
            flush=True,
        )
    p99s = [r["p99"] for r in results]
    print(
        f"p99 over runs: median {statistics.median(p99s) * 1000:.1f} ms, range "
        f"{min(p99s) * 1000:.1f}-{max(p99s) * 1000:.1f} ms"
    )
    failed = any(r["all_misses"] or not r["processed"] for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
