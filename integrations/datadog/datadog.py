"""Datadog monitor notifications through the Webhooks integration (source ``datadog``).

Datadog's payload is whatever template the webhook is configured with, so Cloud Conductor
expects this one (paste it as the webhook's *Payload*; every key is optional except
``alert_transition`` and one of ``alert_id``/``title``):

    {
      "id": "$ID",
      "alert_id": "$ALERT_ID",
      "alert_cycle_key": "$ALERT_CYCLE_KEY",
      "title": "$EVENT_TITLE",
      "alert_title": "$ALERT_TITLE",
      "alert_transition": "$ALERT_TRANSITION",
      "alert_type": "$ALERT_TYPE",
      "alert_status": "$ALERT_STATUS",
      "priority": "$ALERT_PRIORITY",
      "alert_query": "$ALERT_QUERY",
      "alert_metric": "$ALERT_METRIC",
      "alert_scope": "$ALERT_SCOPE",
      "tags": "$TAGS",
      "hostname": "$HOSTNAME",
      "body": "$EVENT_MSG",
      "link": "$LINK",
      "date": "$DATE",
      "last_updated": "$LAST_UPDATED",
      "org": {"id": "$ORG_ID", "name": "$ORG_NAME"}
    }

Meaning (see docs/sources/datadog.md for the full table):

- Status from ``alert_transition``: Triggered, Re-Triggered, Warn, Re-Warn, Renotify, No Data,
  Re-No Data → firing; Recovered (and Resolved) → resolved. Without a transition,
  ``alert_type: success`` → resolved, else firing. Any other transition is refused.
- Severity: ``priority`` P1..P5 (critical, error, warning, info, info); else ``alert_type``
  error/warning/info; a Warn transition is at most a warning.
- Fingerprint: hash of the monitor id (``alert_id``) and the alerting scope (the group of a
  multi-alert monitor), identical for Triggered and Recovered.
- Resource from scope and tags (``host``, ``kube_namespace``/``kube_deployment``, ECS
  ``ecs_cluster_name``/``ecs_service``, ``autoscaling_group``, ``aws_account``, ``region``,
  Azure ``subscription_id``/``resource_group``, GCP ``project_id``).
- Idempotency key: ``datadog:`` + ``id`` (the event id) + transition; else a content hash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.alerts.normalized import AlertStatus, Metric, NormalizedAlert, Severity
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions
from integrations.common.payload import (
    JsonObject,
    get_str,
    get_time,
    load_json_object,
    non_empty,
    stable_hash,
    text,
)
from integrations.common.severity import severity_from_priority, severity_from_word
from integrations.datadog.tags import parse_tags, resource_from_tags

SOURCE = "datadog"
_FIRING = {"triggered", "re-triggered", "warn", "re-warn", "renotify", "no data", "re-no data"}
_RESOLVED = {"recovered", "resolved"}
_THRESHOLD = re.compile(r"(>=|<=|==|!=|>|<)\s*(-?[0-9][0-9.eE+-]*)\s*$")
_TITLE_PREFIX = re.compile(
    r"^\[(?:Triggered|Re-Triggered|Recovered|Warn|Re-Warn|No Data|Re-No Data|Renotify)[^\]]*\]\s*"
)


def _placeholder(value: str | None) -> str | None:
    """Unrendered ``$VARIABLE`` placeholders (a mis-typed template) read as absent."""
    if value is None or re.fullmatch(r"\$[A-Z_]+", value.strip()):
        return None
    return value


def _field(document: JsonObject, key: str) -> str:
    return _placeholder(get_str(document, key, "")) or ""


def _status(document: JsonObject) -> AlertStatus:
    transition = _field(document, "alert_transition")
    if transition:
        lowered = transition.strip().lower()
        if lowered in _FIRING:
            return AlertStatus.FIRING
        if lowered in _RESOLVED:
            return AlertStatus.RESOLVED
        raise MalformedPayload(
            f"alert_transition: unknown value {transition!r} "
            "(expected Triggered, Re-Triggered, Warn, No Data, Renotify or Recovered)"
        )
    return AlertStatus.RESOLVED if _field(document, "alert_type").lower() == "success" else AlertStatus.FIRING


def _severity(document: JsonObject) -> Severity:
    severity = severity_from_priority(_field(document, "priority"))
    if severity is Severity.UNKNOWN:
        alert_type = _field(document, "alert_type").lower()
        severity = severity_from_word(alert_type) if alert_type != "success" else Severity.UNKNOWN
    if "warn" in _field(document, "alert_transition").lower() and severity in (
        Severity.CRITICAL,
        Severity.ERROR,
        Severity.UNKNOWN,
    ):
        severity = Severity.WARNING
    return severity


def _metric(document: JsonObject, scope: Mapping[str, str]) -> Metric | None:
    query = _field(document, "alert_query")
    name = _field(document, "alert_metric")
    if not query and not name:
        return None
    threshold = _THRESHOLD.search(query)
    return Metric(
        namespace="datadog",
        name=name or None,
        dimensions=dict(scope),
        threshold=float(threshold.group(2)) if threshold else None,
    )


def parse(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    """Parse a Datadog webhook delivery rendered from the documented template."""
    document = load_json_object(body)
    monitor_id = _field(document, "alert_id")
    title = _field(document, "alert_title") or _TITLE_PREFIX.sub("", _field(document, "title"))
    if not monitor_id and not title:
        raise MalformedPayload("alert_id: required (or title), see docs/sources/datadog.md for the template")
    status = _status(document)
    scope = parse_tags(_field(document, "alert_scope"))
    tags = parse_tags(_field(document, "tags"))
    hostname = _field(document, "hostname")
    raw_org = document.get("org")
    org: JsonObject = raw_org if isinstance(raw_org, dict) else {}
    moment = get_time(
        {"last_updated": _field(document, "last_updated") or _field(document, "date")}, "last_updated", ""
    )
    labels = {**tags, **scope}
    if _field(document, "alert_cycle_key"):
        labels["alert_cycle_key"] = _field(document, "alert_cycle_key")
    alert = NormalizedAlert(
        source=SOURCE,
        fingerprint=stable_hash("datadog", monitor_id or title, sorted(scope.items())),
        name=title or f"Datadog monitor {monitor_id}",
        status=status,
        severity=_severity(document),
        summary=_field(document, "alert_status") or _field(document, "title"),
        description=_field(document, "body"),
        resource=resource_from_tags({**tags, **scope}, hostname=hostname or None),
        metric=_metric(document, scope),
        starts_at=moment if status is AlertStatus.FIRING else None,
        ends_at=moment if status is AlertStatus.RESOLVED else None,
        labels={key: value for key, value in labels.items() if value},
        annotations={
            key: value
            for key, value in {
                "alert_transition": _field(document, "alert_transition"),
                "alert_query": _field(document, "alert_query"),
                "monitor_id": monitor_id,
                "org": _placeholder(text(org, "name", "org")) or "",
            }.items()
            if value
        },
        links=non_empty([_field(document, "link")]),
    )
    event_id = _field(document, "id")
    key_part = (
        f"{event_id}:{_field(document, 'alert_transition')}"
        if event_id
        else stable_hash(alert.fingerprint, status.value, str(moment))
    )
    return ParsedDelivery(kind=DeliveryKind.ALERTS, alerts=[alert], idempotency_key=f"{SOURCE}:{key_part}")
