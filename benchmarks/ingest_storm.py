"""Ingest storm (issue 3): Alertmanager webhooks into `conductor serve` on SQLite, against a bare endpoint.

    .venv/bin/python benchmarks/ingest_storm.py [--alerts 20000] [--clients 32] [--seed 7] [--runs 3]

Generates realistic Alertmanager v4 webhook deliveries (groups of 1-50 alerts over ~200 Kubernetes
workloads, mixed firing/resolved, a few HA replays of the same group by the second Alertmanager
replica), then, per run:

1. starts `benchmarks/bare_app.py` (same framework, same uvicorn settings, one route that only
   parses JSON and answers 202) and storms it;
2. starts `conductor serve` in a subprocess with a fresh data dir (SQLite, WAL, synchronous=FULL)
   and storms it with the very same requests;
3. checks that what was acknowledged is what is stored: every non-duplicate 202 names a raw event
   whose stored body is byte-for-byte the body sent, the number of raw events equals the number of
   distinct acknowledged deliveries, and the alerts in the stored bodies equal the alerts
   acknowledged; then waits for the workers to drain and counts alerts and incidents.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams (uvloop) with httptools for
response parsing, `--clients` connections each sending its next request as soon as the previous
answer arrives. On 2 cores the load generator shares the CPU with the server; httpx.AsyncClient
costs several times more CPU per request than this, which caps the bare endpoint's rate at the
client's rate and flatters the ratio (`--client httpx` shows it). Exit status 1 if stored !=
acknowledged (or any request failed), else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import resource
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
PATH = "/webhooks/alertmanager"
TOKEN_ENV = "BENCH_ALERTMANAGER_TOKEN"
TOKEN = "bench-storm-token"  # a throwaway bearer token for the benchmark's own server
REQUEST_TIMEOUT = 120.0  # seconds; a request that takes longer fails the run

# ----------------------------------------------------------------------------------------------
# Workload: ~200 Kubernetes workloads and the rules that fire on them
# ----------------------------------------------------------------------------------------------

NAMESPACES = ("payments", "checkout", "catalog", "search", "identity", "ledger", "notify", "ingest")
SERVICES_PER_NAMESPACE = ("api", "worker", "cache", "gateway", "db-proxy")
PODS_PER_SERVICE = 5  # 8 namespaces x 5 services x 5 pods = 200 pods
CLUSTERS = ("prod-eu-west-1", "prod-us-east-1")

# (alertname, severity, PromQL expression, summary) - the usual kube-prometheus suspects
RULES: tuple[tuple[str, str, str, str], ...] = (
    (
        "KubePodCrashLooping",
        "critical",
        'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff",'
        'job="kube-state-metrics"}[5m]) >= 1',
        "Pod is crash looping.",
    ),
    (
        "KubePodNotReady",
        "warning",
        'sum by (namespace, pod) (kube_pod_status_phase{job="kube-state-metrics",'
        'phase=~"Pending|Unknown"}) > 0',
        "Pod has been in a non-ready state for more than 15 minutes.",
    ),
    (
        "KubeContainerWaiting",
        "warning",
        "sum by (namespace, pod, container) "
        '(kube_pod_container_status_waiting_reason{job="kube-state-metrics"}) > 0',
        "Pod container waiting longer than 1 hour",
    ),
    (
        "CPUThrottlingHigh",
        "info",
        "sum(increase(container_cpu_cfs_throttled_periods_total[5m])) by (container, pod, namespace)"
        " / sum(increase(container_cpu_cfs_periods_total[5m])) by (container, pod, namespace) > 0.25",
        "Processes experience elevated CPU throttling.",
    ),
    (
        "KubeMemoryOvercommit",
        "warning",
        'sum(namespace_memory:kube_pod_container_resource_requests:sum{job="kube-state-metrics"}) > 0.95',
        "Cluster has overcommitted memory resource requests.",
    ),
    (
        "ContainerOOMKilled",
        "critical",
        'increase(kube_pod_container_status_restarts_total{job="kube-state-metrics"}[10m]) > 2',
        "Container was OOM killed.",
    ),
    (
        "HighErrorRate",
        "critical",
        'sum(rate(http_requests_total{code=~"5.."}[5m])) by (namespace, service, pod)'
        " / sum(rate(http_requests_total[5m])) by (namespace, service, pod) > 0.05",
        "More than 5% of requests fail.",
    ),
    (
        "HighLatencyP99",
        "error",
        "histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket[5m]))"
        " by (le, namespace, service, pod)) > 1.5",
        "p99 latency above 1.5s.",
    ),
    (
        "TargetDown",
        "warning",
        'up{job="kubernetes-pods"} == 0',
        "Prometheus cannot scrape the target.",
    ),
    (
        "NodeFilesystemSpaceFillingUp",
        "warning",
        'node_filesystem_avail_bytes{job="node-exporter",fstype!=""} / node_filesystem_size_bytes < 0.15',
        "Filesystem is predicted to run out of space within the next 24 hours.",
    ),
    (
        "KubeDeploymentReplicasMismatch",
        "warning",
        'kube_deployment_spec_replicas{job="kube-state-metrics"}'
        ' != kube_deployment_status_replicas_available{job="kube-state-metrics"}',
        "Deployment has not matched the expected number of replicas.",
    ),
    (
        "KubeHpaMaxedOut",
        "info",
        'kube_horizontalpodautoscaler_status_current_replicas{job="kube-state-metrics"}'
        ' == kube_horizontalpodautoscaler_spec_max_replicas{job="kube-state-metrics"}',
        "HPA is running at max replicas",
    ),
)


@dataclass(frozen=True)
class Workload:
    cluster: str
    namespace: str
    service: str
    pod: str
    instance: str
    node: str


def workloads() -> list[Workload]:
    out = []
    for n, namespace in enumerate(NAMESPACES):
        for s, service in enumerate(SERVICES_PER_NAMESPACE):
            for p in range(PODS_PER_SERVICE):
                suffix = hashlib.sha256(f"{namespace}/{service}/{p}".encode()).hexdigest()
                out.append(
                    Workload(
                        cluster=CLUSTERS[n % len(CLUSTERS)],
                        namespace=namespace,
                        service=f"{namespace}-{service}",
                        pod=f"{namespace}-{service}-{suffix[:10]}-{suffix[10:15]}",
                        instance=f"10.{n + 10}.{s * 8 + p}.{int(suffix[:2], 16) % 250 + 2}:8080",
                        node=f"ip-10-0-{n}-{s * 10 + p % 3}.eu-west-1.compute.internal",
                    )
                )
    return out


@dataclass(eq=False)
class Delivery:
    """One webhook POST: its body, how many alerts it carries, and whether it is an HA replay."""

    index: int
    body: bytes
    alerts: int
    replay_of: int | None = None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _fingerprint(labels: dict[str, str]) -> str:
    # Alertmanager's fingerprint is a 64-bit hash of the label set, printed as 16 hex digits.
    return hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16]


def generate(
    total_alerts: int, *, seed: int, replay_rate: float = 0.02, max_group: int = 50
) -> list[Delivery]:
    """Deliveries carrying `total_alerts` alerts in all (HA replays are extra), in sending order.

    Each delivery is one Alertmanager group (grouped by alertname and cluster, as many setups do):
    1..`max_group` alerts, each firing or resolved on its own, with label sets over ~200 pods.
    Alert state evolves over simulated time (a resolved alert fires again later with a new
    startsAt), so every delivery has distinct content and so a distinct idempotency key; a replay
    (the second Alertmanager replica) carries the same group with another externalURL and alert order.
    """
    rng = random.Random(seed)
    pods = workloads()
    clock = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    starts: dict[tuple[str, str], datetime] = {}  # (alertname, pod) -> startsAt of the current firing
    seen: set[tuple[str, frozenset[tuple[str, str, str, str]]]] = set()
    out: list[Delivery] = []
    remaining = total_alerts
    while remaining > 0:
        clock += timedelta(seconds=rng.uniform(0.5, 4.0))
        name, severity, expr, summary = rng.choice(RULES)
        cluster = rng.choice(CLUSTERS)
        candidates = [w for w in pods if w.cluster == cluster]
        size = min(remaining, rng.randint(1, max_group), len(candidates))
        chosen = rng.sample(candidates, size)
        alerts: list[dict[str, Any]] = []
        content: set[tuple[str, str, str, str]] = set()
        for w in chosen:
            labels = {
                "alertname": name,
                "severity": severity,
                "cluster": w.cluster,
                "namespace": w.namespace,
                "service": w.service,
                "pod": w.pod,
                "container": w.service.rsplit("-", 1)[-1],
                "instance": w.instance,
                "node": w.node,
                "job": "kube-state-metrics" if name.startswith("Kube") else "kubernetes-pods",
                "prometheus": "monitoring/k8s",
            }
            key = (name, w.pod)
            started = starts.get(key)
            # Only an alert that is firing can be sent as resolved; one in four of those is.
            firing = started is None or rng.random() < 0.75
            if started is None:
                started = starts[key] = clock - timedelta(seconds=rng.randint(30, 900))
            ends = "0001-01-01T00:00:00Z" if firing else _iso(clock)
            if not firing:
                del starts[key]  # fires again later with a new startsAt
            fingerprint = _fingerprint(labels)
            alerts.append(
                {
                    "status": "firing" if firing else "resolved",
                    "labels": labels,
                    "annotations": {
                        "summary": summary,
                        "description": f"{summary} {w.namespace}/{w.pod} ({w.instance}) on {w.node}.",
                        "runbook_url": f"https://runbooks.prometheus-operator.dev/runbooks/{name.lower()}",
                        "value": f"{rng.uniform(0.1, 99.0):.3f}",
                    },
                    "startsAt": _iso(started),
                    "endsAt": ends,
                    "generatorURL": "http://prometheus-k8s-0:9090/graph?g0.expr="
                    + quote(expr, safe="")
                    + "&g0.tab=1",
                    "fingerprint": fingerprint,
                }
            )
            content.add((fingerprint, alerts[-1]["status"], alerts[-1]["startsAt"], ends))
        route = '{}/{severity=~"^(?:critical|error|warning|info)$"}'
        group_key = f'{route}:{{alertname="{name}", cluster="{cluster}"}}'
        identity = (group_key, frozenset(content))
        if identity in seen:
            continue  # the very same group state again: Alertmanager would not renotify it
        seen.add(identity)
        common = {
            k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)
        }
        document = {
            "receiver": "conductor",
            "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
            "alerts": alerts,
            "groupLabels": {"alertname": name, "cluster": cluster},
            "commonLabels": common,
            "commonAnnotations": {"summary": summary} if len(alerts) > 1 else alerts[0]["annotations"],
            "externalURL": "http://alertmanager-main-0.monitoring:9093",
            "version": "4",
            "groupKey": group_key,
            "truncatedAlerts": 0,
        }
        out.append(Delivery(len(out), json.dumps(document).encode(), len(alerts)))
        remaining -= len(alerts)
        if rng.random() < replay_rate:
            replica = dict(document, externalURL="http://alertmanager-main-1.monitoring:9093")
            replica["alerts"] = rng.sample(alerts, len(alerts))
            out.append(Delivery(len(out), json.dumps(replica).encode(), len(alerts), replay_of=out[-1].index))
    # Replays reach us a little after the original (the replicas' notification pipelines race).
    order = list(out)
    for d in [d for d in out if d.replay_of is not None]:
        order.remove(d)
        order.insert(min(len(order), order.index(out[d.replay_of]) + rng.randint(1, 40)), d)
    return order


# ----------------------------------------------------------------------------------------------
# Client
# ----------------------------------------------------------------------------------------------


@dataclass
class Result:
    status: int
    latency: float
    body: bytes


@dataclass
class Storm:
    results: dict[int, Result] = field(default_factory=dict)  # position in the sent list -> result
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0


def request_bytes(host: str, port: int, body: bytes) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "User-Agent: Alertmanager/0.27.0\r\n"
        "Content-Type: application/json\r\n"
        f"Authorization: Bearer {TOKEN}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


class _Response:
    """httptools callbacks for one response at a time."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.done = False

    def on_body(self, data: bytes) -> None:
        self.chunks.append(data)

    def on_message_complete(self) -> None:
        self.done = True


async def _raw_connection(
    host: str, port: int, requests: list[tuple[int, bytes]], cursor: Iterator[int], storm: Storm
) -> None:
    import httptools

    reader, writer = await asyncio.open_connection(host, port)
    try:
        for position in cursor:
            index, payload = requests[position]
            response = _Response()
            parser = httptools.HttpResponseParser(response)
            started = time.perf_counter()
            writer.write(payload)
            while not response.done:
                data = await asyncio.wait_for(reader.read(65536), REQUEST_TIMEOUT)
                if not data:
                    raise ConnectionError("server closed the connection")
                parser.feed_data(data)
            storm.results[index] = Result(
                parser.get_status_code(), time.perf_counter() - started, b"".join(response.chunks)
            )
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _httpx_connection(
    client: Any, url: str, requests: list[tuple[int, bytes]], cursor: Iterator[int], storm: Storm
) -> None:
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {TOKEN}",
        "user-agent": "Alertmanager/0.27.0",
    }
    for position in cursor:
        index, body = requests[position]
        started = time.perf_counter()
        response = await client.post(url + PATH, content=body, headers=headers)
        storm.results[index] = Result(response.status_code, time.perf_counter() - started, response.content)


async def _storm(
    host: str, port: int, deliveries: Sequence[Delivery], clients: int, kind: str, storm: Storm
) -> None:
    cursor = iter(range(len(deliveries)))  # shared: each connection takes the next request
    if kind == "raw":
        requests = [(pos, request_bytes(host, port, d.body)) for pos, d in enumerate(deliveries)]
        tasks = [_raw_connection(host, port, requests, cursor, storm) for _ in range(clients)]
        started = time.perf_counter()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    else:
        import httpx

        bodies = [(pos, d.body) for pos, d in enumerate(deliveries)]
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT) as client:
            tasks = [
                _httpx_connection(client, f"http://{host}:{port}", bodies, cursor, storm)
                for _ in range(clients)
            ]
            started = time.perf_counter()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    storm.seconds = time.perf_counter() - started
    storm.errors.extend(f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException))


def process_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live children (conductor's intake process), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            with contextlib.suppress(OSError):
                total += process_cpu_seconds(int(child))
    return total


def run_client(
    host: str, port: int, deliveries: Sequence[Delivery], *, clients: int, kind: str, server_pid: int
) -> Storm:
    storm = Storm()
    before = resource.getrusage(resource.RUSAGE_SELF)
    server_before = process_cpu_seconds(server_pid)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        runner = asyncio.run
    runner(_storm(host, port, deliveries, clients, kind, storm))
    after = resource.getrusage(resource.RUSAGE_SELF)
    storm.server_cpu = process_cpu_seconds(server_pid) - server_before
    storm.client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return storm


# ----------------------------------------------------------------------------------------------
# Servers
# ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def server_process(command: list[str], *, ready: str, env: dict[str, str], log: Path) -> Iterator[int]:
    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_ready(ready, proc, log)
        yield proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def conductor_config(directory: Path) -> Path:
    config = directory / "config.toml"
    config.write_text(
        f'data_dir = "{directory / "var"}"\n'
        '[logging]\nlevel = "warning"\n'
        f'[ingest.auth.alertmanager]\nmode = "bearer"\nsecret_env = "{TOKEN_ENV}"\n'
    )
    return config


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


@dataclass
class RunOutcome:
    bare: Figures
    conductor: Figures
    check: Verification

    @property
    def ratio(self) -> float:
        return self.conductor.requests_per_second / self.bare.requests_per_second


def run_once(
    deliveries: Sequence[Delivery],
    *,
    clients: int,
    client: str,
    work: Path,
    drain_timeout: float,
    bare_passes: int,
) -> RunOutcome:
    env = {**os.environ, TOKEN_ENV: TOKEN, "PYTHONUNBUFFERED": "1"}
    env.pop("CONDUCTOR_CONFIG", None)
    env.pop("CONDUCTOR_DATA_DIR", None)
    env.pop("CONDUCTOR_DATABASE_URL", None)
    python = sys.executable

    port = free_port()
    bare_cmd = [python, str(ROOT / "benchmarks" / "bare_app.py"), "--port", str(port)]
    with server_process(
        bare_cmd, ready=f"http://127.0.0.1:{port}/healthz", env=env, log=work / "bare.log"
    ) as pid:
        # Stateless, so the same requests are sent several times over for a steadier figure.
        sent = list(deliveries) * bare_passes
        bare = figures(
            run_client("127.0.0.1", port, sent, clients=clients, kind=client, server_pid=pid), sent
        )

    port = free_port()
    config = conductor_config(work)
    db = work / "var" / "conductor.sqlite3"
    serve_cmd = [python, "-m", "bot", "serve", "--config", str(config), "--port", str(port)]
    with server_process(
        serve_cmd, ready=f"http://127.0.0.1:{port}/readyz", env=env, log=work / "conductor.log"
    ) as pid:
        started = time.perf_counter()
        storm = run_client("127.0.0.1", port, deliveries, clients=clients, kind=client, server_pid=pid)
        conductor = figures(storm, deliveries)
        check = verify(db, deliveries, storm)
        check.drained_seconds, check.pending_after = wait_drained(db, started, drain_timeout)
        count_outcomes(db, check)
    for message in storm.errors[:5]:
        print(f"  client error: {message}")
    return RunOutcome(bare=bare, conductor=conductor, check=check)


def report_run(n: int, outcome: RunOutcome) -> None:
    v = outcome.check
    print(f"run {n}")
    show("bare", outcome.bare)
    show("conductor", outcome.conductor)
    drained = (
        f"{v.drained_seconds:.1f} s" if v.drained_seconds is not None else f"NOT ({v.pending_after} pending)"
    )
    print(
        f"  ratio to bare (req/s) {outcome.ratio:.2f}; acknowledged {v.acknowledged} "
        f"({v.acknowledged_new} new + {v.duplicates} duplicates) vs stored {v.stored} raw events; "
        f"alerts acknowledged {v.acknowledged_alerts} vs stored {v.stored_alerts}; "
        f"body mismatches {v.mismatched_bodies}"
        + (f"; other statuses {v.other_statuses}" if v.other_statuses else "")
    )
    print(
        f"  drained (all raw events processed) after {drained}; alert rows {v.alerts_rows}; "
        f"incidents created {v.incidents} ({v.incidents_open} still open); "
        f"incident jobs still queued {v.jobs_pending}"
    )
    print(f"  stored == acknowledged: {'yes' if v.ok else 'NO'}")


def summarize(outcomes: Sequence[RunOutcome]) -> None:
    def med(values: Sequence[float]) -> float:
        return statistics.median(values)

    c = [o.conductor for o in outcomes]
    b = [o.bare for o in outcomes]
    print(f"median of {len(outcomes)} run(s)")
    print(
        f"  conductor {med([f.alerts_per_second for f in c]):.0f} alerts/s, "
        f"{med([f.requests_per_second for f in c]):.1f} req/s, p50 {med([f.p50_ms for f in c]):.1f} ms, "
        f"p99 {med([f.p99_ms for f in c]):.1f} ms"
    )
    print(
        f"  bare      {med([f.alerts_per_second for f in b]):.0f} alerts/s, "
        f"{med([f.requests_per_second for f in b]):.1f} req/s, p50 {med([f.p50_ms for f in b]):.1f} ms, "
        f"p99 {med([f.p99_ms for f in b]):.1f} ms"
    )
    print(f"  ratio     {med([o.ratio for o in outcomes]):.2f}")
    drains = [o.check.drained_seconds for o in outcomes if o.check.drained_seconds is not None]
    if drains:
        print(f"  drained   {med(drains):.1f} s after the storm started")
    print(f"  incidents {med([o.check.incidents for o in outcomes]):.0f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=20000, help="alerts to send (HA replays extra)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=1, help="repeat bare + conductor this many times")
    parser.add_argument("--replay-rate", type=float, default=0.02, help="share of groups replayed (HA)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument(
        "--bare-passes", type=int, default=3, help="send the requests this many times to the bare app"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database)")
    args = parser.parse_args(argv)

    deliveries = generate(args.alerts, seed=args.seed, replay_rate=args.replay_rate)
    sizes = [d.alerts for d in deliveries if d.replay_of is None]
    print(
        f"{len(deliveries)} deliveries ({len(sizes)} groups + {len(deliveries) - len(sizes)} HA replays), "
        f"{sum(sizes)} alerts, {statistics.mean(sizes):.1f} alerts/group, "
        f"{statistics.mean(len(d.body) for d in deliveries) / 1024:.1f} KiB/body; "
        f"{args.clients} clients ({args.client}); python {sys.version.split()[0]}, {os.cpu_count()} cpus"
    )
    outcomes = []
    ok = True
    for n in range(1, args.runs + 1):
        work = Path(tempfile.mkdtemp(prefix="ingest-storm-"))
        outcome = run_once(
            deliveries,
            clients=args.clients,
            client=args.client,
            work=work,
            drain_timeout=args.drain_timeout,
            bare_passes=args.bare_passes,
        )
        report_run(n, outcome)
        ok = ok and outcome.check.ok and outcome.conductor.errors == 0
        outcomes.append(outcome)
        if args.keep:
            print(f"  kept {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    summarize(outcomes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
