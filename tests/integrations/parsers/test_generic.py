"""Cloud Conductor's own generic alert format."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from bot.errors import MalformedPayload
from tests.integrations.parsers.payloads import doc, parse

SINGLE = "generic__single_firing.json"


def test_single_alert() -> None:
    delivery = parse("generic", SINGLE)
    [alert] = delivery.alerts
    assert alert.to_json_dict() == {
        "source": "generic",
        "fingerprint": "checkout-latency",
        "name": "CheckoutLatencyHigh",
        "status": "firing",
        "severity": "error",
        "summary": "p99 latency of checkout is 2.3 s",
        "description": "Synthetic check from the edge probe.",
        "resource": {
            "provider": "aws",
            "account": "123456789012",
            "region": "eu-west-1",
            "type": "ecs:service",
            "id": "prod/checkout",
            "name": "checkout",
        },
        "metric": {
            "namespace": "edge-probe",
            "name": "latency_p99",
            "dimensions": {"route": "/pay"},
            "statistic": "p99",
            "threshold": 1.5,
            "value": 2.3,
            "unit": "Seconds",
        },
        "starts_at": "2024-03-05T10:00:00Z",
        "ends_at": None,
        "labels": {"team": "payments"},
        "annotations": {"probe": "edge-fra-1"},
        "links": ["https://probe.example.com/checks/42"],
    }
    assert delivery.idempotency_key == parse("generic", SINGLE).idempotency_key


def test_batch_with_delivery_id() -> None:
    delivery = parse("generic", "generic__batch_mixed.json")
    assert delivery.idempotency_key == "generic:probe-run-2024-03-05T10:05"
    resolved, disk = delivery.alerts
    assert (resolved.status, resolved.fingerprint) == (AlertStatus.RESOLVED, "checkout-latency")
    assert resolved.ends_at == datetime(2024, 3, 5, 10, 5, tzinfo=UTC)
    assert (disk.status, disk.severity) == (AlertStatus.FIRING, Severity.CRITICAL)  # "page"
    assert len(disk.fingerprint) == 32


def test_default_fingerprint_ignores_status_and_times() -> None:
    firing: dict[str, Any] = {
        "name": "DiskAlmostFull",
        "status": "firing",
        "starts_at": "2024-03-05T10:00:00Z",
        "resource": {"type": "host", "id": "build-07"},
        "labels": {"mount": "/var"},
    }
    resolved = {**firing, "status": "resolved", "ends_at": "2024-03-05T11:00:00Z"}
    other_host = {**firing, "resource": {"type": "host", "id": "build-08"}}
    fingerprints = [parse("generic", body).alerts[0].fingerprint for body in (firing, resolved, other_host)]
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]
    assert parse("generic", firing).idempotency_key != parse("generic", resolved).idempotency_key


def _alert(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = doc(SINGLE)
    payload.update(changes)
    return payload


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(_alert(name=None), "name: required", id="no-name"),
        pytest.param(_alert(status="open"), "status: expected firing or resolved, got 'open'", id="status"),
        pytest.param(
            _alert(resource={"provider": "oracle"}),
            "resource.provider: expected aws, azure, gcp, kubernetes or other, got 'oracle'",
            id="provider",
        ),
        pytest.param(_alert(resource="web-1"), "resource: expected an object, got a string", id="resource"),
        pytest.param(_alert(labels=["team"]), "labels: expected an object, got an array", id="labels"),
        pytest.param(_alert(fingerprint={"f": 1}), "fingerprint: expected a string", id="fingerprint"),
        pytest.param(
            {"alerts": [doc(SINGLE), {"status": "firing"}]}, "alerts[1].name: required", id="batch-item"
        ),
        pytest.param({"alerts": {}}, "alerts: expected an array, got an object", id="batch-object"),
    ],
)
def test_malformed(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse("generic", body)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("changes", "path", "check"),
    [
        pytest.param({"links": "x"}, "links", lambda a: a.links == [], id="links"),
        pytest.param(
            {"links": [1, "https://ok"]}, "links[0]", lambda a: a.links == ["https://ok"], id="link-type"
        ),
        pytest.param({"starts_at": "now"}, "starts_at", lambda a: a.starts_at is None, id="time"),
        pytest.param({"metric": "cpu"}, "metric", lambda a: a.metric is None, id="metric"),
        pytest.param({"annotations": [1]}, "annotations", lambda a: a.annotations == {}, id="annotations"),
    ],
)
def test_a_bad_optional_field_is_emptied_with_a_warning(
    changes: dict[str, Any], path: str, check: Any
) -> None:
    delivery = parse("generic", _alert(**changes))
    [alert] = delivery.alerts
    sound = parse("generic", SINGLE).alerts[0]
    assert (alert.name, alert.status, alert.fingerprint) == (sound.name, sound.status, sound.fingerprint)
    assert check(alert)
    assert [w.path for w in delivery.warnings] == [path]


def test_a_single_alerts_own_id_counts_in_its_idempotency_key() -> None:
    """A repeat of the same alert without starts_at is a new delivery when its id differs, and a
    duplicate when the id is the same (a retry)."""
    alert = {"name": "ProbeFailed", "status": "firing", "fingerprint": "probe"}
    first = parse("generic", {**alert, "id": "run-1"}).idempotency_key
    second = parse("generic", {**alert, "id": "run-2"}).idempotency_key
    retry = parse("generic", {**alert, "id": "run-1"}).idempotency_key
    without = parse("generic", alert).idempotency_key
    assert first != second and first == retry
    assert without not in (first, second)
