"""PagerDuty webhooks v3 and their HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from bot.errors import MalformedPayload, Unauthenticated
from integrations.base import DeliveryKind
from integrations.pagerduty.pagerduty import verify_pagerduty_signature
from tests.integrations.parsers.payloads import doc, parse, raw

PRIORITY_UPDATED = "pagerduty_webhook_v3__incident.priority_updated_pd_docs.json"


def test_priority_updated_incident() -> None:
    delivery = parse("pagerduty", PRIORITY_UPDATED)
    assert delivery.idempotency_key == "pagerduty:5ac64822-4adc-4fda-ade0-410becf0de4f"
    [alert] = delivery.alerts
    assert (alert.fingerprint, alert.status, alert.severity) == (
        "PGR0VU2",
        AlertStatus.FIRING,
        Severity.CRITICAL,
    )
    assert alert.name == "A little bump in the road"
    assert (alert.resource.type, alert.resource.id, alert.resource.name) == (
        "pagerduty:service",
        "PF9KMXH",
        "API Service",
    )
    assert alert.annotations["incident_key"] == "d3640fbd41094207a1c11e58e46b1662"
    assert alert.links[0] == "https://acme.pagerduty.com/incidents/PGR0VU2"


@pytest.mark.parametrize(
    ("fixture", "status", "severity"),
    [
        pytest.param(
            "pagerduty_webhook_v3__incident.triggered.json",
            AlertStatus.FIRING,
            Severity.WARNING,
            id="triggered-low-urgency",
        ),
        pytest.param(PRIORITY_UPDATED, AlertStatus.FIRING, Severity.CRITICAL, id="priority-P1"),
        pytest.param(
            "pagerduty_webhook_v3__incident.resolved.json",
            AlertStatus.RESOLVED,
            Severity.CRITICAL,
            id="resolved",
        ),
    ],
)
def test_incident_lifecycle(fixture: str, status: AlertStatus, severity: Severity) -> None:
    [alert] = parse("pagerduty", fixture).alerts
    assert (alert.status, alert.severity, alert.fingerprint) == (status, severity, "PGR0VU2")


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        pytest.param("incident.acknowledged", AlertStatus.FIRING, id="acknowledged"),
        pytest.param("incident.reopened", AlertStatus.FIRING, id="reopened"),
        pytest.param("incident.escalated", AlertStatus.FIRING, id="escalated"),
        pytest.param("incident.reassigned", AlertStatus.FIRING, id="reassigned"),
        pytest.param("incident.resolved", AlertStatus.RESOLVED, id="resolved"),
    ],
)
def test_event_types(event_type: str, status: AlertStatus) -> None:
    payload = doc("pagerduty_webhook_v3__incident.triggered.json")
    payload["event"]["event_type"] = event_type
    assert parse("pagerduty", payload).alerts[0].status is status


def test_ping_is_a_test_delivery() -> None:
    delivery = parse("pagerduty", "pagerduty_webhook_v3__pagey.ping.json")
    assert delivery.kind is DeliveryKind.TEST
    assert delivery.alerts == []


def test_annotation_events_carry_no_alert_and_service_events_are_unsupported() -> None:
    note = doc(PRIORITY_UPDATED)
    note["event"].update(event_type="incident.annotated")
    note["event"]["data"] = {
        "incident": {"id": "PGR0VU2", "type": "incident_reference"},
        "content": "Restarted the API",
        "type": "incident_note",
        "id": "P1",
    }
    service = doc(PRIORITY_UPDATED)
    service["event"].update(event_type="service.updated", resource_type="service")
    annotated = parse("pagerduty", note)
    assert (annotated.kind, annotated.alerts, annotated.unsupported_type) == (DeliveryKind.ALERTS, [], None)
    unsupported = parse("pagerduty", service)
    assert (unsupported.kind, unsupported.alerts) == (DeliveryKind.UNSUPPORTED, [])
    assert unsupported.unsupported_type == "service.updated"
    assert unsupported.idempotency_key == f"pagerduty:{service['event']['id']}"


def test_webhook_id_header_when_the_event_has_no_id() -> None:
    payload = doc(PRIORITY_UPDATED)
    del payload["event"]["id"]
    delivery = parse("pagerduty", payload, headers={"x-webhook-id": "0d4a5b6c"})
    assert delivery.idempotency_key == "pagerduty:0d4a5b6c"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({"messages": []}, "event: required", id="v2-shape"),
        pytest.param({"event": {"id": "x"}}, "event.event_type: required", id="no-type"),
        pytest.param(
            {"event": {"id": "x", "event_type": "incident.triggered", "data": {"status": "triggered"}}},
            "event.data.id: required",
            id="no-incident-id",
        ),
    ],
)
def test_malformed(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse("pagerduty", body)
    assert caught.value.reason.startswith(reason)


def _sign(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


BODY = raw(PRIORITY_UPDATED)


@pytest.mark.parametrize(
    ("header", "secrets"),
    [
        pytest.param(_sign("s3cret", BODY), ["s3cret"], id="one"),
        pytest.param(f"{_sign('old', BODY)},{_sign('new', BODY)}", ["new"], id="rotation-two-signatures"),
        pytest.param(_sign("new", BODY), ["old", "new"], id="rotation-two-secrets"),
        pytest.param(_sign("s3cret", BODY).upper().replace("V1=", "v1="), ["s3cret"], id="upper-hex"),
    ],
)
def test_valid_signatures(header: str, secrets: list[str]) -> None:
    verify_pagerduty_signature(BODY, header, secrets)


@pytest.mark.parametrize(
    ("body", "header", "secrets", "reason"),
    [
        pytest.param(BODY + b" ", _sign("s3cret", BODY), ["s3cret"], "does not match", id="tampered"),
        pytest.param(BODY, _sign("other", BODY), ["s3cret"], "does not match", id="wrong-secret"),
        pytest.param(BODY, None, ["s3cret"], "missing X-PagerDuty-Signature", id="missing"),
        pytest.param(BODY, "v0=abc", ["s3cret"], "no v1 signature", id="other-scheme"),
        pytest.param(BODY, _sign("s3cret", BODY), [], "no PagerDuty webhook secret", id="no-secret"),
    ],
)
def test_invalid_signatures(body: bytes, header: str | None, secrets: list[str], reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        verify_pagerduty_signature(body, header, secrets)
