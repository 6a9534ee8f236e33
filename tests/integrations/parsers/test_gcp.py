"""Google Cloud Monitoring incidents: 1.2, 1.1 and the test notification."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind
from tests.integrations.parsers.payloads import doc, parse

CLOSED = "gcp_monitoring__incident_closed_v1.2_google_docs_via_goalert.json"
OPEN = "gcp_monitoring__incident_open_v1.2.json"


def test_closed_incident_v1_2() -> None:
    delivery = parse("gcp", CLOSED)
    assert delivery.kind is DeliveryKind.ALERTS
    [alert] = delivery.alerts
    assert (alert.fingerprint, alert.name, alert.status) == (
        "0.opqiw61fsv7p",
        "Monitor-Project-Cluster",
        AlertStatus.RESOLVED,
    )
    assert alert.severity is Severity.UNKNOWN  # "no severity"
    assert alert.resource.model_dump() == {
        "provider": "gcp",
        "account": "internal-project",
        "region": "us-central1-c",
        "type": "gce_instance",
        "id": "11223344",
        "name": "gke-cluster-1-default-pool-e2df4cbd-dgp3",
    }
    assert alert.metric is not None
    assert alert.metric.model_dump() == {
        "namespace": "compute.googleapis.com",
        "name": "compute.googleapis.com/instance/cpu/utilization",
        "dimensions": {"instance_name": "the name of the VM instance"},
        "statistic": "ALIGN_MEAN",
        "threshold": 0.9,
        "value": 0.835,
        "unit": None,
    }
    assert alert.starts_at == datetime(2020, 1, 1, 1, 1, 1, tzinfo=UTC)
    assert alert.ends_at == datetime(2020, 1, 1, 11, 11, 11, tzinfo=UTC)
    assert alert.labels["user-label-1"] == "important label"
    assert (
        alert.links[0]
        == "https://console.cloud.google.com/monitoring/alerting/incidents/0.lxfiw61fsv7p?project=internal-project"
    )


def test_open_and_closed_share_the_incident_fingerprint() -> None:
    opened = parse("gcp", OPEN)
    closed = parse("gcp", CLOSED)
    assert opened.alerts[0].status is AlertStatus.FIRING
    assert opened.alerts[0].severity is Severity.CRITICAL
    assert opened.alerts[0].ends_at is None
    assert opened.alerts[0].fingerprint == closed.alerts[0].fingerprint
    assert opened.idempotency_key != closed.idempotency_key
    assert opened.idempotency_key == parse("gcp", OPEN).idempotency_key


def test_version_1_1() -> None:
    [alert] = parse("gcp", "gcp_monitoring__incident_open_v1.1.json").alerts
    assert (alert.fingerprint, alert.name, alert.status) == (
        "0.kr4jk0kb6ufm",
        "billing-api 5xx ratio",
        AlertStatus.FIRING,
    )
    assert alert.starts_at == datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
    assert alert.metric is None
    assert alert.resource.provider.value == "gcp"
    assert alert.resource.id is not None
    assert alert.resource.id.startswith("billing-api Cloud Run Revision")


def test_test_notification() -> None:
    delivery = parse("gcp", "gcp_monitoring__test_notification.json")
    assert delivery.kind is DeliveryKind.TEST
    [alert] = delivery.alerts
    assert alert.status is AlertStatus.FIRING  # "OPEN"
    assert (alert.starts_at, alert.ends_at) == (None, None)  # epoch 0
    assert alert.description == "Test documentation"  # documentation as a plain string
    assert alert.metric is not None
    assert (alert.metric.threshold, alert.metric.value) == (0.5, 1.0)


def _incident(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = doc(OPEN)
    payload["incident"].update(changes)
    return payload


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({"version": "1.2"}, "incident: required", id="no-incident"),
        pytest.param({"incident": []}, "incident: expected an object, got an array", id="incident-array"),
        pytest.param(_incident(incident_id=None), "incident.incident_id: required", id="no-id"),
        pytest.param(
            _incident(state="paused"), "incident.state: expected open or closed, got 'paused'", id="state"
        ),
        pytest.param(_incident(incident_id={"i": 1}), "incident.incident_id: expected a string", id="bad-id"),
    ],
)
def test_malformed(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse("gcp", body)
    assert caught.value.reason.startswith(reason)


def test_numbers_as_strings_that_are_not_numbers_are_dropped() -> None:
    [alert] = parse("gcp", _incident(observed_value="n/a")).alerts
    assert alert.metric is not None
    assert alert.metric.value is None


CLOSED = "gcp_monitoring__incident_closed_v1.2_google_docs_via_goalert.json"


@pytest.mark.parametrize(
    ("field", "value", "check"),
    [
        pytest.param("ended_at", "null", lambda a: a.ends_at is None, id="ended-at-null-string"),
        pytest.param("started_at", "noon", lambda a: a.starts_at is None, id="started-at"),
        pytest.param("metric", {"labels": "x"}, lambda a: a.metric.dimensions == {}, id="metric-labels"),
        pytest.param("resource", "gce_instance", lambda a: a.resource.type is None, id="resource"),
        pytest.param("policy_user_labels", [1], lambda a: "user-label-1" not in a.labels, id="user-labels"),
    ],
)
def test_a_closed_incident_with_a_bad_optional_field_still_resolves(
    field: str, value: Any, check: Any
) -> None:
    payload: dict[str, Any] = doc(CLOSED)
    payload["incident"][field] = value
    delivery = parse("gcp", payload)
    [alert] = delivery.alerts
    sound = parse("gcp", CLOSED).alerts[0]
    assert (alert.fingerprint, alert.status, alert.name) == (
        sound.fingerprint,
        AlertStatus.RESOLVED,
        sound.name,
    )
    assert check(alert)
    [warning] = delivery.warnings
    assert warning.path.startswith(f"incident.{field}")
