"""Alertmanager webhook v4/v3: per-alert status, severity words, k8s resources, HA idempotency."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from bot.errors import MalformedPayload
from integrations.prometheus.labels import resource_from_labels
from tests.integrations.parsers.payloads import doc, parse

REPLICA_A = "alertmanager__mixed_group_k8s_replica_a.json"
REPLICA_B = "alertmanager__mixed_group_k8s_replica_b.json"


def test_firing_sample_with_truncated_alerts() -> None:
    delivery = parse(
        "alertmanager",
        "alertmanager__firing_single_with_truncatedAlerts_alertmanager_webhook_types_crate.json",
    )
    [alert] = delivery.alerts
    assert alert.source == "alertmanager"
    assert alert.fingerprint == "1a30ba71cca2921f"
    assert alert.name == "ProbeFailure"
    assert alert.status is AlertStatus.FIRING
    assert alert.severity is Severity.CRITICAL
    assert alert.summary == "BlackBox Probe Failure: https://server.example.org"
    assert alert.starts_at == datetime(2023, 2, 6, 13, 8, 45, 828000, tzinfo=UTC)
    assert alert.ends_at is None  # 0001-01-01T00:00:00Z
    assert alert.resource.type == "instance"
    assert alert.resource.id == "https://server.example.org"
    assert alert.metric is not None
    assert (alert.metric.name, alert.metric.threshold) == ("probe_success", 0.0)
    assert alert.links == ["http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1"]


def test_status_is_per_alert_not_per_group() -> None:
    delivery = parse("alertmanager", REPLICA_A)
    by_pod = {alert.labels["pod"]: alert for alert in delivery.alerts}
    assert doc(REPLICA_A)["status"] == "firing"
    assert by_pod["api-7d9c8b6f5-x2k4q"].status is AlertStatus.FIRING
    assert by_pod["worker-5b7f9d4c8-qq7lm"].status is AlertStatus.RESOLVED
    assert by_pod["worker-5b7f9d4c8-qq7lm"].ends_at == datetime(2024, 3, 5, 9, 15, 26, 52000, tzinfo=UTC)


def test_kubernetes_resource_from_labels() -> None:
    delivery = parse("alertmanager", REPLICA_A)
    api, worker = sorted(delivery.alerts, key=lambda a: a.labels["container"])
    assert api.resource.model_dump() == {
        "provider": "kubernetes",
        "account": "prod-eu",
        "region": None,
        "type": "k8s:deployment",
        "id": "shop/api",
        "name": "api",
    }
    assert (worker.resource.type, worker.resource.id) == ("k8s:statefulset", "shop/worker")
    assert api.severity is Severity.WARNING  # "Warning", case-insensitive
    assert api.metric is not None
    assert api.metric.name == "kube_pod_container_status_waiting_reason"
    assert api.metric.dimensions == {"reason": "CrashLoopBackOff", "job": "kube-state-metrics"}
    assert api.metric.threshold == 1.0
    assert "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping" in api.links


def test_same_fingerprint_when_the_alert_resolves() -> None:
    before = {a.labels["pod"]: a for a in parse("alertmanager", REPLICA_A).alerts}
    after = {
        a.labels["pod"]: a
        for a in parse("alertmanager", "alertmanager__mixed_group_k8s_all_resolved.json").alerts
    }
    pod = "api-7d9c8b6f5-x2k4q"
    assert before[pod].fingerprint == after[pod].fingerprint == "5e0c7a1f3b2d4e68"
    assert (before[pod].status, after[pod].status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)


def test_idempotency_key_equal_across_ha_replicas_and_redeliveries() -> None:
    key_a = parse("alertmanager", REPLICA_A).idempotency_key
    key_b = parse("alertmanager", REPLICA_B).idempotency_key
    assert key_a is not None
    assert key_a.startswith("alertmanager:")
    assert key_a == key_b == parse("alertmanager", REPLICA_A).idempotency_key


def test_idempotency_key_changes_with_content() -> None:
    key_a = parse("alertmanager", REPLICA_A).idempotency_key
    key_resolved = parse("alertmanager", "alertmanager__mixed_group_k8s_all_resolved.json").idempotency_key
    other_group = doc(REPLICA_A)
    other_group["groupKey"] = '{}:{alertname="Other"}'
    assert key_a != key_resolved
    assert key_a != parse("alertmanager", other_group).idempotency_key


def test_v3_without_fingerprints_gets_a_label_hash() -> None:
    delivery = parse("alertmanager", "alertmanager__v3_no_fingerprint.json")
    [alert] = delivery.alerts
    assert alert.severity is Severity.CRITICAL  # "page"
    assert len(alert.fingerprint) == 32
    relabelled = doc("alertmanager__v3_no_fingerprint.json")
    relabelled["alerts"][0]["status"] = "resolved"
    relabelled["alerts"][0]["endsAt"] = "2019-03-14T18:00:00Z"
    assert parse("alertmanager", relabelled).alerts[0].fingerprint == alert.fingerprint
    assert alert.metric is not None
    assert alert.metric.name == "node_filesystem_avail_bytes"
    assert alert.metric.threshold == 0.05


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        pytest.param("critical", Severity.CRITICAL, id="critical"),
        pytest.param("PAGE", Severity.CRITICAL, id="page-upper"),
        pytest.param("error", Severity.ERROR, id="error"),
        pytest.param("major", Severity.ERROR, id="major"),
        pytest.param("High", Severity.ERROR, id="high"),
        pytest.param("warning", Severity.WARNING, id="warning"),
        pytest.param("warn", Severity.WARNING, id="warn"),
        pytest.param("minor", Severity.WARNING, id="minor"),
        pytest.param("info", Severity.INFO, id="info"),
        pytest.param("none", Severity.INFO, id="none"),
        pytest.param("low", Severity.INFO, id="low"),
        pytest.param("severe", Severity.UNKNOWN, id="unmapped"),
        pytest.param(None, Severity.UNKNOWN, id="absent"),
    ],
)
def test_severity_label_mapping(word: str | None, expected: Severity) -> None:
    payload = doc("alertmanager__v3_no_fingerprint.json")
    labels = payload["alerts"][0]["labels"]
    labels.pop("severity")
    if word is not None:
        labels["severity"] = word
    assert parse("alertmanager", payload).alerts[0].severity is expected


def test_prom2teams_group_keeps_the_sources_fingerprints() -> None:
    delivery = parse("alertmanager", "alertmanager__resolved_group_two_alerts_prom2teams.json")
    assert [a.status for a in delivery.alerts] == [AlertStatus.RESOLVED, AlertStatus.RESOLVED]
    assert [a.severity for a in delivery.alerts] == [Severity.UNKNOWN, Severity.CRITICAL]
    assert {a.fingerprint for a in delivery.alerts} == {"dd19ae3d4e06ac55"}
    assert [a.resource.id for a in delivery.alerts] == ["cs30.evilcorp", "cs31.evilcorp"]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param(
            {"namespace": "shop", "pod": "api-1"}, ("kubernetes", "k8s:pod", "shop/api-1"), id="pod"
        ),
        pytest.param(
            {"namespace": "shop", "pod_name": "api-1"}, ("kubernetes", "k8s:pod", "shop/api-1"), id="pod_name"
        ),
        pytest.param(
            {"namespace": "shop", "daemonset": "agent", "pod": "agent-x"},
            ("kubernetes", "k8s:daemonset", "shop/agent"),
            id="workload-before-pod",
        ),
        pytest.param({"node": "ip-10-0-1-2"}, ("kubernetes", "k8s:node", "ip-10-0-1-2"), id="node"),
        pytest.param({"namespace": "shop"}, ("kubernetes", "k8s:namespace", "shop"), id="namespace-only"),
        pytest.param({"service": "billing"}, ("other", "service", "billing"), id="service"),
        pytest.param({"job": "node"}, ("other", "prometheus:job", "node"), id="job"),
        pytest.param({}, ("other", None, None), id="nothing"),
    ],
)
def test_resource_from_labels(labels: dict[str, str], expected: tuple[str, str | None, str | None]) -> None:
    resource = resource_from_labels(labels)
    assert (resource.provider.value, resource.type, resource.id) == expected


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        pytest.param(
            lambda d: d.update(alerts={"a": 1}),
            "alerts: expected an array, got an object",
            id="alerts-object",
        ),
        pytest.param(lambda d: d.pop("alerts"), "alerts: required", id="alerts-missing"),
        pytest.param(
            lambda d: d["alerts"].append("x"),
            "alerts[2]: expected an object, got a string",
            id="alert-string",
        ),
        pytest.param(
            lambda d: d["alerts"][1].update(labels=["a"]), "alerts[1].labels: expected an object", id="labels"
        ),
        pytest.param(
            lambda d: d["alerts"][0].update(status="pending"),
            "alerts[0].status: expected firing or resolved, got 'pending'",
            id="status",
        ),
        pytest.param(
            lambda d: d["alerts"][0].pop("status"), "alerts[0].status: required", id="status-missing"
        ),
        pytest.param(
            lambda d: d["alerts"][0].update(fingerprint={"f": 1}),
            "alerts[0].fingerprint: expected a string, got an object",
            id="fingerprint",
        ),
        pytest.param(
            lambda d: d.update(version="5"), "version: unsupported Alertmanager webhook version", id="version"
        ),
    ],
)
def test_malformed_payload_reasons(mutate: object, reason: str) -> None:
    payload = copy.deepcopy(doc(REPLICA_A))
    mutate(payload)  # type: ignore[operator]
    with pytest.raises(MalformedPayload) as caught:
        parse("alertmanager", payload)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"", "body: empty", id="empty"),
        pytest.param(b'{"alerts": [', "body: not valid JSON", id="truncated"),
        pytest.param(b"[]", "body: expected an object, got an array", id="array"),
        pytest.param(b"\xff\xfe", "body: not", id="binary"),
    ],
)
def test_unreadable_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse("alertmanager", body)
    assert caught.value.reason.startswith(reason)


def test_empty_alert_list_is_not_an_error() -> None:
    payload = doc(REPLICA_A)
    payload["alerts"] = []
    delivery = parse("alertmanager", json.dumps(payload).encode())
    assert delivery.alerts == []


@pytest.mark.parametrize(
    ("field", "value", "emptied"),
    [
        pytest.param("startsAt", "yesterday", "starts_at", id="time"),
        pytest.param("annotations", ["not", "a", "map"], "annotations", id="annotations"),
        pytest.param("generatorURL", {"u": 1}, "links", id="generator-url"),
    ],
)
def test_a_bad_optional_field_is_emptied_with_a_warning(field: str, value: object, emptied: str) -> None:
    payload = copy.deepcopy(doc(REPLICA_A))
    payload["alerts"][1][field] = value
    delivery = parse("alertmanager", payload)
    sound = parse("alertmanager", REPLICA_A)
    assert len(delivery.alerts) == len(sound.alerts) == 2
    assert delivery.alerts[0] == sound.alerts[0]  # the other alert is untouched
    bad = delivery.alerts[1].model_dump()
    assert bad[emptied] in (None, {}, [])
    assert (bad["name"], bad["status"], bad["fingerprint"]) == (
        sound.alerts[1].name,
        sound.alerts[1].status,
        sound.alerts[1].fingerprint,
    )
    [warning] = delivery.warnings
    assert warning.path == f"alerts[1].{field}"
    assert warning.field == f"alerts[*].{field}"
