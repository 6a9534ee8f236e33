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

Datadog's own default payload (``title``, ``body``, ``event_type``, ``date``, ``last_updated``,
``id``, ``org``) is read too: the title carries the transition and the alerting group,
``[Triggered on {host:i-3b93aafb}] CPU high``.

Meaning (see docs/sources/datadog.md for the full table):

- Status from ``alert_transition``: Triggered, Re-Triggered, Warn, Re-Warn, Renotify, No Data,
  Re-No Data → firing; Recovered (and Resolved) → resolved. Without a transition field, the
  title's ``[Transition ...]`` prefix decides; without either, ``alert_type: success`` →
  resolved, else firing. Any other transition is refused.
- Severity: ``priority`` P1..P5 (critical, error, warning, info, info), else the title's
  ``[P1]`` prefix; else ``alert_type`` error/warning/info; a Warn transition is at most a warning.
- Scope: ``alert_scope``, else the ``{key:value,...}`` after ``on`` in the title. Its tags become
  labels and metric dimensions, and its host the resource.
- Fingerprint: hash of the monitor id (``alert_id``, else the title without its prefix) and the
  scope (the group of a multi-alert monitor), identical for Triggered and Recovered.
- Resource from scope and tags (``tags`` and ``event_tags``, a comma-separated string or a
  list): ``host``, ``kube_namespace``/``kube_deployment``, ECS ``ecs_cluster_name``/``ecs_service``,
  ``autoscaling_group``, ``aws_account``, ``region``, Azure ``subscription_id``/``resource_group``,
  GCP ``project_id``.
- A ``[TEST]`` title (the monitor's "Test Notifications" button) is kind TEST; it still yields
  its alert.
- Essential: ``alert_id``/``title``/``alert_title`` (identity and name), ``alert_scope``,
  ``alert_transition`` and ``id``; other malformed fields are emptied with a warning.
- Idempotency key: ``datadog:`` + ``id`` (the event id) + transition; else a content hash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from bot.alerts.normalized import AlertStatus, Metric, NormalizedAlert, Severity
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions, parse_leniently
from integrations.common.lenient import EssentialFields
from integrations.common.payload import (
    JsonObject,
    get_str,
    malformed,
    non_empty,
    parse_time,
    stable_hash,
    text,
)
from integrations.common.severity import severity_from_priority, severity_from_word
from integrations.datadog.tags import parse_tags, resource_from_tags

SOURCE = "datadog"
ESSENTIAL = EssentialFields("alert_id", "title", "alert_title", "alert_scope", "alert_transition", "id")
_FIRING = {"triggered", "re-triggered", "warn", "re-warn", "renotify", "no data", "re-no data"}
_RESOLVED = {"recovered", "resolved"}
_THRESHOLD = re.compile(r"(>=|<=|==|!=|>|<)\s*(-?[0-9][0-9.eE+-]*)\s*$")
_TITLE = re.compile(
    r"^\s*(?:\[(?P<test>TEST)\]\s*)?(?:\[(?P<priority>P[1-5])\]\s*)?"
    r"\[(?P<transition>[A-Za-z][A-Za-z -]*?)(?:\s+on\s+\{(?P<scope>[^}]*)\})?\]\s*(?P<rest>.*)$",
    re.DOTALL,
)


class Title(NamedTuple):
    """What Datadog's event title says: ``[TEST] [P2] [Triggered on {host:a}] CPU high``."""

    name: str  # the title without its prefixes
    transition: str = ""
    scope: str = ""
    priority: str = ""
    test: bool = False


def read_title(title: str) -> Title:
    found = _TITLE.match(title)
    if found is None or found.group("transition").strip().lower() not in _FIRING | _RESOLVED:
        return Title(title.strip())
    return Title(
        name=found.group("rest").strip(),
        transition=found.group("transition").strip(),
        scope=found.group("scope") or "",
        priority=found.group("priority") or "",
        test=found.group("test") is not None,
    )


def _placeholder(value: str | None) -> str | None:
    """Unrendered ``$VARIABLE`` placeholders (a mis-typed template) read as absent."""
    if value is None or re.fullmatch(r"\$[A-Z_]+", value.strip()):
        return None
    return value


def _field(document: JsonObject, key: str) -> str:
    return _placeholder(get_str(document, key, "")) or ""


def _tags(document: JsonObject, key: str) -> dict[str, str]:
    """``"env:prod,role:web"`` or ``["env:prod", "role:web"]``."""
    value = document.get(key)
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise malformed(key, "expected a string or an array of strings")
        return parse_tags(",".join(item for item in value if _placeholder(item)))
    return parse_tags(_field(document, key))


def _time(document: JsonObject, key: str) -> datetime | None:
    return parse_time(_field(document, key) or None, key)


def _status(document: JsonObject, title: Title) -> AlertStatus:
    transition = _field(document, "alert_transition") or title.transition
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


def _severity(document: JsonObject, title: Title) -> Severity:
    severity = severity_from_priority(_field(document, "priority") or title.priority)
    if severity is Severity.UNKNOWN:
        alert_type = _field(document, "alert_type").lower()
        severity = severity_from_word(alert_type) if alert_type != "success" else Severity.UNKNOWN
    transition = _field(document, "alert_transition") or title.transition
    if "warn" in transition.lower() and severity in (Severity.CRITICAL, Severity.ERROR, Severity.UNKNOWN):
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
    """Parse a Datadog webhook delivery (the documented template, or Datadog's default one)."""
    return parse_leniently(body, ESSENTIAL, _read)


def _read(document: JsonObject) -> ParsedDelivery:
    monitor_id = _field(document, "alert_id")
    title = read_title(_field(document, "title"))
    name = _field(document, "alert_title") or title.name
    if not monitor_id and not name:
        raise MalformedPayload("alert_id: required (or title), see docs/sources/datadog.md for the template")
    status = _status(document, title)
    scope = parse_tags(_field(document, "alert_scope") or title.scope)
    tags = {**_tags(document, "event_tags"), **_tags(document, "tags")}
    hostname = _field(document, "hostname")
    raw_org = document.get("org")
    org: JsonObject = raw_org if isinstance(raw_org, dict) else {}
    moment = _time(document, "last_updated") or _time(document, "date")
    labels = {**tags, **scope}
    if _field(document, "alert_cycle_key"):
        labels["alert_cycle_key"] = _field(document, "alert_cycle_key")
    alert = NormalizedAlert(
        source=SOURCE,
        fingerprint=stable_hash("datadog", monitor_id or name, sorted(scope.items())),
        name=name or f"Datadog monitor {monitor_id}",
        status=status,
        severity=_severity(document, title),
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
                "alert_transition": _field(document, "alert_transition") or title.transition,
                "alert_query": _field(document, "alert_query"),
                "event_type": _field(document, "event_type"),
                "monitor_id": monitor_id,
                "org": _placeholder(text(org, "name", "org")) or "",
            }.items()
            if value
        },
        links=non_empty([_field(document, "link")]),
    )
    event_id = _field(document, "id")
    key_part = (
        f"{event_id}:{_field(document, 'alert_transition') or title.transition}"
        if event_id
        else stable_hash(alert.fingerprint, status.value, str(moment))
    )
    return ParsedDelivery(
        kind=DeliveryKind.TEST if title.test else DeliveryKind.ALERTS,
        alerts=[alert],
        idempotency_key=f"{SOURCE}:{key_part}",
    )
