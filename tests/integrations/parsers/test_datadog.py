"""Datadog webhooks rendered from the documented template."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind
from integrations.datadog.datadog import read_title
from integrations.datadog.tags import parse_tags
from tests.integrations.parsers.payloads import doc, parse

TRIGGERED = "datadog_webhook__Triggered.json"
RECOVERED = "datadog_webhook__Recovered.json"


def test_triggered() -> None:
    delivery = parse("datadog", TRIGGERED)
    assert delivery.idempotency_key == "datadog:7465498265387614827:Triggered"
    [alert] = delivery.alerts
    assert (alert.name, alert.status, alert.severity) == (
        "CPU high on web hosts",
        AlertStatus.FIRING,
        Severity.ERROR,
    )
    assert alert.resource.model_dump() == {
        "provider": "aws",
        "account": "123456789012",
        "region": "eu-west-1",
        "type": "ec2:instance",
        "id": "i-0abc123def4567890",
        "name": "i-0abc123def4567890",
    }
    assert alert.metric is not None
    assert alert.metric.model_dump() == {
        "namespace": "datadog",
        "name": "system.cpu.user",
        "dimensions": {"host": "i-0abc123def4567890"},
        "statistic": None,
        "threshold": 90.0,
        "value": None,
        "unit": None,
    }
    assert alert.starts_at == datetime(2024, 3, 5, 17, 0, tzinfo=UTC)
    assert alert.labels["env"] == "prod"
    assert alert.links == ["https://app.datadoghq.eu/monitors/123456789?group=host%3Ai-0abc123def4567890"]


def test_recovered_resolves_the_same_alert() -> None:
    triggered = parse("datadog", TRIGGERED)
    recovered = parse("datadog", RECOVERED)
    assert recovered.alerts[0].status is AlertStatus.RESOLVED
    assert recovered.alerts[0].fingerprint == triggered.alerts[0].fingerprint
    assert recovered.alerts[0].ends_at == datetime(2024, 3, 5, 17, 30, tzinfo=UTC)
    assert recovered.idempotency_key != triggered.idempotency_key


def test_other_group_of_the_same_monitor_is_another_alert() -> None:
    other = doc(TRIGGERED)
    other["alert_scope"] = "host:i-0fff000000000000"
    assert parse("datadog", other).alerts[0].fingerprint != parse("datadog", TRIGGERED).alerts[0].fingerprint


def test_warn_on_kubernetes() -> None:
    [alert] = parse("datadog", "datadog_webhook__Warn_kubernetes.json").alerts
    assert (alert.status, alert.severity) == (AlertStatus.FIRING, Severity.WARNING)
    assert alert.resource.model_dump() == {
        "provider": "kubernetes",
        "account": "prod-eu",
        "region": None,
        "type": "k8s:deployment",
        "id": "shop/api",
        "name": "api",
    }


@pytest.mark.parametrize(
    ("changes", "status", "severity"),
    [
        pytest.param(
            {"alert_transition": "Re-Triggered"}, AlertStatus.FIRING, Severity.ERROR, id="re-triggered"
        ),
        pytest.param({"alert_transition": "No Data"}, AlertStatus.FIRING, Severity.ERROR, id="no-data"),
        pytest.param(
            {"alert_transition": "Recovered", "alert_type": "success"},
            AlertStatus.RESOLVED,
            Severity.ERROR,
            id="recovered-keeps-priority",
        ),
        pytest.param({"priority": "P1"}, AlertStatus.FIRING, Severity.CRITICAL, id="p1"),
        pytest.param(
            {"priority": "", "alert_type": "warning"}, AlertStatus.FIRING, Severity.WARNING, id="type-warning"
        ),
        pytest.param(
            {"priority": "$ALERT_PRIORITY", "alert_type": "info"},
            AlertStatus.FIRING,
            Severity.INFO,
            id="unrendered-priority",
        ),
        pytest.param(
            {"alert_transition": None, "title": "CPU high", "alert_type": "success"},
            AlertStatus.RESOLVED,
            Severity.ERROR,
            id="no-transition-success",
        ),
        pytest.param(
            {"alert_transition": None, "title": "[Recovered on {host:i-0abc123def4567890}] CPU high"},
            AlertStatus.RESOLVED,
            Severity.ERROR,
            id="transition-from-title",
        ),
        pytest.param(
            {"alert_transition": "$ALERT_TRANSITION", "title": "[Warn on {host:i-0abc123def4567890}] CPU"},
            AlertStatus.FIRING,
            Severity.WARNING,
            id="warn-from-title",
        ),
    ],
)
def test_transitions_and_severities(changes: dict[str, Any], status: AlertStatus, severity: Severity) -> None:
    payload = doc(TRIGGERED)
    payload.update(changes)
    [alert] = parse("datadog", payload).alerts
    assert (alert.status, alert.severity) == (status, severity)


def test_title_prefix_is_dropped_when_there_is_no_alert_title() -> None:
    payload = doc(TRIGGERED)
    del payload["alert_title"]
    assert parse("datadog", payload).alerts[0].name == "CPU high on web hosts"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            doc("datadog_webhook__default_payload_template_datadog_docs.json"),
            "alert_id: required (or title)",
            id="default-template-unrendered",
        ),
        pytest.param(
            {**doc(TRIGGERED), "alert_transition": "Downtime started"},
            "alert_transition: unknown value 'Downtime started'",
            id="unknown-transition",
        ),
        pytest.param(
            {**doc(TRIGGERED), "alert_scope": {"host": "x"}},
            "alert_scope: expected a string, got an object",
            id="bad-scope",
        ),
    ],
)
def test_malformed(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse("datadog", body)
    assert caught.value.reason.startswith(reason)


def test_parse_tags() -> None:
    assert parse_tags("env:prod, role:web,critical,*, url:https://x") == {
        "env": "prod",
        "role": "web",
        "critical": "",
        "url": "https://x",
    }


DEFAULT_TRIGGERED = "datadog_webhook__default_payload_Triggered_title_scope.json"
DEFAULT_RECOVERED = "datadog_webhook__default_payload_Recovered_title_scope.json"
EVENT_TAGS = "datadog_webhook__event_tags_template_Warn_multi_scope.json"


def test_default_payload_reads_transition_and_scope_from_the_title() -> None:
    [triggered] = parse("datadog", DEFAULT_TRIGGERED).alerts
    [recovered] = parse("datadog", DEFAULT_RECOVERED).alerts
    assert (triggered.name, triggered.status) == ("CPU load is very high", AlertStatus.FIRING)
    assert recovered.status is AlertStatus.RESOLVED
    assert recovered.fingerprint == triggered.fingerprint
    assert triggered.labels["host"] == "i-3b93aafb"
    assert (triggered.resource.provider.value, triggered.resource.type, triggered.resource.id) == (
        "aws",
        "ec2:instance",
        "i-3b93aafb",
    )
    assert triggered.annotations["event_type"] == "query_alert_monitor"


def test_another_group_in_the_title_is_another_alert() -> None:
    other = doc(DEFAULT_TRIGGERED)
    other["title"] = "[Triggered on {host:i-0fff0000}] CPU load is very high"
    assert (
        parse("datadog", other).alerts[0].fingerprint
        != parse("datadog", DEFAULT_TRIGGERED).alerts[0].fingerprint
    )


def test_event_tags_and_a_multi_key_scope_become_labels() -> None:
    [alert] = parse("datadog", EVENT_TAGS).alerts
    assert (alert.name, alert.status, alert.severity) == (
        "Disk usage high",
        AlertStatus.FIRING,
        Severity.WARNING,
    )
    assert {key: alert.labels[key] for key in ("env", "host", "role", "service", "disk")} == {
        "env": "prod",
        "host": "web-7.eu-west-1.compute.internal",
        "role": "web",
        "service": "checkout",
        "disk": "root",
    }
    assert (alert.resource.type, alert.resource.id) == ("host", "web-7.eu-west-1.compute.internal")


def test_tags_as_a_list_are_read_too() -> None:
    payload = doc(EVENT_TAGS)
    payload["event_tags"] = ["env:staging", "service:search"]
    [alert] = parse("datadog", payload).alerts
    assert (alert.labels["env"], alert.labels["service"]) == ("prod", "search")  # the scope wins for env


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        pytest.param("[Triggered] CPU", ("CPU", "Triggered", "", "", False), id="no-scope"),
        pytest.param(
            "[P1] [Re-Triggered on {host:a, env:prod}] CPU",
            ("CPU", "Re-Triggered", "host:a, env:prod", "P1", False),
            id="priority-multi",
        ),
        pytest.param("[TEST] [No Data on {host:a}] CPU", ("CPU", "No Data", "host:a", "", True), id="test"),
        pytest.param("[Maintenance] CPU", ("[Maintenance] CPU", "", "", "", False), id="not-a-transition"),
        pytest.param("CPU high", ("CPU high", "", "", "", False), id="plain"),
    ],
)
def test_read_title(title: str, expected: tuple[str, str, str, str, bool]) -> None:
    assert tuple(read_title(title)) == expected


def test_a_test_notification_is_kind_test_and_keeps_its_alert() -> None:
    payload = doc(DEFAULT_TRIGGERED)
    payload["title"] = "[TEST] " + payload["title"]
    delivery = parse("datadog", payload)
    assert delivery.kind is DeliveryKind.TEST
    assert delivery.alerts[0].name == "CPU load is very high"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param({"date": "tomorrow", "last_updated": None}, "date", id="bad-date"),
        pytest.param({"tags": {"env": "prod"}}, "tags", id="tags-object"),
        pytest.param({"event_tags": [1, 2]}, "event_tags", id="tags-numbers"),
        pytest.param({"hostname": ["h"]}, "hostname", id="hostname"),
    ],
)
def test_a_bad_optional_field_is_emptied_with_a_warning(changes: dict[str, Any], path: str) -> None:
    payload = doc(TRIGGERED)
    payload.update(changes)
    delivery = parse("datadog", payload)
    [alert] = delivery.alerts
    sound = parse("datadog", TRIGGERED).alerts[0]
    assert (alert.name, alert.status, alert.fingerprint) == (sound.name, sound.status, sound.fingerprint)
    assert [w.path for w in delivery.warnings] == [path]
