"""The ingest storm's checks and figures (benchmarks/ingest_storm.py): what was acknowledged is what
was stored, the drain, and the throughput and latency figures it prints."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.storm_client import Storm
from benchmarks.storm_workload import Delivery

# ----------------------------------------------------------------------------------------------
# Checks and figures
# ----------------------------------------------------------------------------------------------


@dataclass
class Verification:
    acknowledged: int = 0  # 202s
    acknowledged_new: int = 0  # 202s that stored a new raw event
    duplicates: int = 0  # 202s recognised as a replay of a stored delivery
    acknowledged_alerts: int = 0  # alerts in the distinct acknowledged deliveries
    stored: int = 0  # rows in raw_events
    stored_alerts: int = 0  # alerts in the stored bodies
    mismatched_bodies: int = 0  # acknowledged raw_event_id missing or holding another body
    unacknowledged_replays: int = 0  # replay acknowledged but its original nowhere stored
    other_statuses: dict[int, int] = field(default_factory=dict)
    drained_seconds: float | None = None
    pending_after: int = 0
    alerts_rows: int = 0
    incidents: int = 0
    incidents_open: int = 0
    jobs_pending: int = 0  # incident.event jobs (detect, rules, reporting) still queued then

    @property
    def ok(self) -> bool:
        return (
            self.stored == self.acknowledged_new
            and self.stored_alerts == self.acknowledged_alerts
            and self.mismatched_bodies == 0
            and self.unacknowledged_replays == 0
        )


def sqlite_connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def verify(db: Path, deliveries: Sequence[Delivery], storm: Storm) -> Verification:
    v = Verification()
    acked_ids: dict[int, Delivery] = {}  # raw_event_id -> the delivery acknowledged with it
    replays: list[Delivery] = []
    for position, result in storm.results.items():
        delivery = deliveries[position]
        if result.status != 202:
            v.other_statuses[result.status] = v.other_statuses.get(result.status, 0) + 1
            continue
        v.acknowledged += 1
        answer = json.loads(result.body)
        if answer["duplicate"]:
            v.duplicates += 1
            replays.append(delivery)
        else:
            v.acknowledged_new += 1
            v.acknowledged_alerts += delivery.alerts
            acked_ids[int(answer["raw_event_id"])] = delivery
    with contextlib.closing(sqlite_connect(db)) as connection:
        stored: dict[int, bytes] = dict(connection.execute("SELECT id, body FROM raw_events"))
    v.stored = len(stored)
    for body in stored.values():
        v.stored_alerts += len(json.loads(body)["alerts"])
    for raw_id, delivery in acked_ids.items():
        if stored.get(raw_id) != delivery.body:
            v.mismatched_bodies += 1
    stored_hashes = {hashlib.sha256(b).digest() for b in stored.values()}
    families: dict[int, list[Delivery]] = {}  # an original and its HA replays
    for d in deliveries:
        families.setdefault(d.index if d.replay_of is None else d.replay_of, []).append(d)
    for d in replays:
        # Acknowledged as a duplicate: some copy of the same group must be what is stored.
        family = families[d.index if d.replay_of is None else d.replay_of]
        if not any(hashlib.sha256(c.body).digest() in stored_hashes for c in family):
            v.unacknowledged_replays += 1
    return v


def wait_drained(db: Path, started: float, timeout: float) -> tuple[float | None, int]:
    deadline = time.monotonic() + timeout
    with contextlib.closing(sqlite_connect(db)) as connection:
        while True:
            pending = connection.execute(
                "SELECT count(*) FROM raw_events WHERE status = 'pending'"
            ).fetchone()[0]
            if pending == 0:
                return time.perf_counter() - started, 0
            if time.monotonic() > deadline:
                return None, int(pending)
            time.sleep(0.1)


def count_outcomes(db: Path, v: Verification) -> None:
    with contextlib.closing(sqlite_connect(db)) as connection:
        v.alerts_rows = connection.execute("SELECT count(*) FROM alerts").fetchone()[0]
        v.incidents = connection.execute("SELECT count(*) FROM incidents").fetchone()[0]
        v.incidents_open = connection.execute(
            "SELECT count(*) FROM incidents WHERE status != 'resolved'"
        ).fetchone()[0]
        v.jobs_pending = connection.execute("SELECT count(*) FROM jobs WHERE status = 'pending'").fetchone()[
            0
        ]


@dataclass
class Figures:
    seconds: float
    requests: int
    alerts: int
    p50_ms: float
    p99_ms: float
    server_cpu: float
    client_cpu: float
    errors: int

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def alerts_per_second(self) -> float:
        return self.alerts / self.seconds


def figures(storm: Storm, sent: Sequence[Delivery]) -> Figures:
    latencies = sorted(r.latency for r in storm.results.values())
    ok = [sent[position] for position, r in storm.results.items() if r.status == 202]
    return Figures(
        seconds=storm.seconds,
        requests=len(ok),
        alerts=sum(d.alerts for d in ok),
        p50_ms=1000 * percentile(latencies, 0.50),
        p99_ms=1000 * percentile(latencies, 0.99),
        server_cpu=storm.server_cpu,
        client_cpu=storm.client_cpu,
        errors=len(storm.errors) + len(sent) - len(storm.results),
    )


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


def show(label: str, f: Figures) -> None:
    print(
        f"  {label:<10} {f.alerts_per_second:8.0f} alerts/s  {f.requests_per_second:7.1f} req/s  "
        f"p50 {f.p50_ms:7.1f} ms  p99 {f.p99_ms:7.1f} ms  {f.seconds:6.2f} s  "
        f"cpu server {f.server_cpu:5.1f} s client {f.client_cpu:5.1f} s"
        + (f"  ERRORS {f.errors}" if f.errors else "")
    )
