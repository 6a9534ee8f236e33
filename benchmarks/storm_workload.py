"""The ingest storm's workload (benchmarks/ingest_storm.py): realistic Alertmanager v4 webhook
deliveries over ~200 Kubernetes workloads, with a few HA replays of the same group."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

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
