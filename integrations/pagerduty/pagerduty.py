"""PagerDuty webhooks v3 (source ``pagerduty``) and their signature.

Each delivery carries one ``event``. Incident events (``resource_type: incident``) become one
alert about that incident:

- Status: ``incident.resolved`` → resolved; every other incident event (triggered, acknowledged,
  reopened, escalated, priority_updated, annotated, reassigned, ...) → firing, unless the
  incident data itself says ``status: resolved``.
- Severity: the incident priority (P1 → critical, P2 → error, P3 → warning, P4/P5 → info) when
  set, else urgency (high → critical, low → warning).
- Fingerprint: PagerDuty's incident id (``event.data.id``), the same for every event of the
  incident. Resource: the PagerDuty service (type ``pagerduty:service``).
- ``pagey.ping`` (the "send test event" button) is kind TEST with no alert. Incident events whose
  data is not the incident itself (``incident.annotated`` carries a note,
  ``incident.responder.added`` a request, ``incident.status_update_published`` an update) carry
  no alert: they change nothing an alert says.
- Events about anything but incidents (``service.created``, ``service.updated``, ...) are
  unsupported: acknowledged and kept as a dead letter ``unsupported event type service.updated``.
- Essential: ``event.id``, ``event.event_type`` and the incident's ``event.data.id``; other
  malformed fields are emptied with a warning.
- Idempotency key: ``event.id``, else the ``X-Webhook-Id`` header.

`verify_pagerduty_signature` checks ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]``, the
HMAC-SHA256 of the raw body under any of the configured secrets (several while rotating).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource, Severity
from bot.errors import MalformedPayload, Unauthenticated
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions, parse_leniently, unsupported
from integrations.common.lenient import EssentialFields
from integrations.common.payload import (
    JsonObject,
    get_list,
    get_object,
    get_str,
    get_time,
    header,
    join,
    non_empty,
    require_str,
    text,
)
from integrations.common.severity import severity_from_priority

SOURCE = "pagerduty"
ESSENTIAL = EssentialFields("event.id", "event.event_type", "event.data.id")
SIGNATURE_HEADER = "X-PagerDuty-Signature"
_URGENCY = {"high": Severity.CRITICAL, "low": Severity.WARNING}


def verify_pagerduty_signature(body: bytes, header_value: str | None, secrets: Sequence[str]) -> None:
    """Raise Unauthenticated unless one ``v1=`` signature matches one secret (constant time)."""
    keys = [secret for secret in secrets if secret]
    if not keys:
        raise Unauthenticated("no PagerDuty webhook secret is configured")
    if not header_value:
        raise Unauthenticated(f"missing {SIGNATURE_HEADER} header")
    given = [
        part.strip()[3:].lower() for part in header_value.split(",") if part.strip().lower().startswith("v1=")
    ]
    if not given:
        raise Unauthenticated(f"{SIGNATURE_HEADER} has no v1 signature")
    matched = False
    for key in keys:
        expected = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        for signature in given:
            matched |= hmac.compare_digest(expected.encode(), signature.encode())
    if not matched:
        raise Unauthenticated("PagerDuty signature does not match")


def _severity(data: JsonObject, path: str) -> Severity:
    priority = get_object(data, "priority", path)
    severity = severity_from_priority(get_str(priority, "summary", join(path, "priority")))
    if severity is Severity.UNKNOWN:
        severity = _URGENCY.get(text(data, "urgency", path).lower(), Severity.UNKNOWN)
    return severity


def _incident_alert(event: JsonObject, event_type: str) -> NormalizedAlert:
    path = "event.data"
    data = get_object(event, "data", "event")
    incident_id = require_str(data, "id", path)
    resolved = event_type == "incident.resolved" or text(data, "status", path).lower() == "resolved"
    status = AlertStatus.RESOLVED if resolved else AlertStatus.FIRING
    service = get_object(data, "service", path)
    service_path = join(path, "service")
    service_id = get_str(service, "id", service_path)
    occurred = get_time(event, "occurred_at", "event")
    assignees = [
        str(item["summary"])
        for item in get_list(data, "assignees", path)
        if isinstance(item, dict) and isinstance(item.get("summary"), str)
    ]
    annotations = {
        "event_type": event_type,
        "incident_number": text(data, "number", path),
        "incident_key": text(data, "incident_key", path),
        "pd_status": text(data, "status", path),
        "urgency": text(data, "urgency", path),
        "priority": text(get_object(data, "priority", path), "summary", join(path, "priority")),
        "assignees": ", ".join(assignees),
        "agent": text(get_object(event, "agent", "event"), "summary", "event.agent"),
        "resolve_reason": text(data, "resolve_reason", path),
    }
    teams = [
        str(item["summary"])
        for item in get_list(data, "teams", path)
        if isinstance(item, dict) and isinstance(item.get("summary"), str)
    ]
    labels = {"service": text(service, "summary", service_path)}
    if teams:
        labels["team"] = ",".join(team for team in teams if team)
    title = text(data, "title", path)
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=incident_id,
        name=title or f"PagerDuty incident {incident_id}",
        status=status,
        severity=_severity(data, path),
        summary=title,
        resource=Resource(
            provider=Provider.OTHER,
            type="pagerduty:service",
            id=service_id,
            name=get_str(service, "summary", service_path) or service_id,
        ),
        starts_at=get_time(data, "created_at", path) or occurred,
        ends_at=occurred if status is AlertStatus.RESOLVED else None,
        labels={key: value for key, value in labels.items() if value},
        annotations={key: value for key, value in annotations.items() if value},
        links=non_empty([get_str(data, "html_url", path), get_str(service, "html_url", service_path)]),
    )


def parse(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    """Parse a PagerDuty v3 webhook delivery (signature checked separately)."""
    return parse_leniently(body, ESSENTIAL, lambda document: _read(document, headers))


def _read(document: JsonObject, headers: Mapping[str, str]) -> ParsedDelivery:
    if "event" not in document:
        raise MalformedPayload("event: required (a PagerDuty v3 webhook has one event)")
    event = get_object(document, "event", "")
    event_type = require_str(event, "event_type", "event")
    event_id = get_str(event, "id", "event") or header(headers, "X-Webhook-Id")
    key = f"{SOURCE}:{event_id}" if event_id else None
    if event_type == "pagey.ping":
        return ParsedDelivery(kind=DeliveryKind.TEST, idempotency_key=key)
    resource_type = get_str(event, "resource_type", "event")
    if not event_type.startswith("incident.") or resource_type not in (None, "incident"):
        return unsupported(event_type, idempotency_key=key)
    data_type = get_str(get_object(event, "data", "event"), "type", "event.data")
    if data_type not in (None, "incident"):  # notes, responders, status updates: no state change
        return ParsedDelivery(kind=DeliveryKind.ALERTS, idempotency_key=key)
    return ParsedDelivery(
        kind=DeliveryKind.ALERTS, alerts=[_incident_alert(event, event_type)], idempotency_key=key
    )
