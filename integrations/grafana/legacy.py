"""Grafana's legacy (pre-8) alerting webhook: one notification per rule and state change.

Older and self-hosted Grafanas send ``{"ruleId", "ruleName", "state", "evalMatches": [{"metric",
"value", "tags"}], "tags", "ruleUrl", "imageUrl", "title", "message", "orgId", "dashboardId",
"panelId"}``. Decisions:

- One alert per rule (not per matched series): ``alerting`` → firing, ``ok`` → resolved,
  ``no_data`` → per ``[ingest.grafana] no_data_status`` (firing with ``no_data_severity``,
  resolved, or ignore: no alert). ``pending`` and ``paused`` are not state changes an on-call
  engineer acts on: no alert. Any other state is refused.
- Severity from the rule's ``severity`` tag; else unknown.
- Resource from the first matched series' tags (host, instance, Kubernetes workload labels),
  else from the rule's tags. Metric: that series' name, tags and value. Every match is listed in
  the ``matches`` annotation.
- Fingerprint: a hash of ``orgId`` and ``ruleId`` (``ruleName`` when there is no id), the same
  for alerting and ok.
- The "Test notification" Grafana sends from the contact point page is kind TEST with no alert.
- Essential: ``ruleName``, ``ruleId`` and ``state``; other malformed fields are emptied.
- Idempotency key: none of the sender's own, so the ingest stage hashes the body.
"""

from __future__ import annotations

from bot.alerts.normalized import AlertStatus, Metric, NormalizedAlert, Resource, Severity
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions
from integrations.common.lenient import EssentialFields
from integrations.common.payload import (
    JsonObject,
    expect_object,
    get_list,
    get_str,
    get_str_map,
    join,
    non_empty,
    require_str,
    stable_hash,
    text,
    to_float,
)
from integrations.common.severity import severity_from_word
from integrations.prometheus.labels import resource_from_labels

ESSENTIAL = EssentialFields("ruleId", "ruleName", "state")
MARKERS = ("ruleName", "ruleId", "evalMatches")
_TEST_MESSAGE = "someone is testing the alert notification"
_NO_ALERT_STATES = {"pending", "paused"}


def is_legacy(document: JsonObject) -> bool:
    """A legacy notification has rule fields and no Alertmanager-style ``alerts`` list."""
    return "alerts" not in document and any(key in document for key in MARKERS)


def _status(state: str, options: ParseOptions) -> tuple[AlertStatus, Severity | None] | None:
    """(status, severity override) for a state; None when the state makes no alert."""
    if state == "alerting":
        return AlertStatus.FIRING, None
    if state == "ok":
        return AlertStatus.RESOLVED, None
    if state == "no_data":
        configured = options.grafana_no_data_status.strip().lower()
        if configured == "ignore":
            return None
        if configured == AlertStatus.RESOLVED.value:
            return AlertStatus.RESOLVED, None
        return AlertStatus.FIRING, options.grafana_no_data_severity
    if state in _NO_ALERT_STATES:
        return None
    raise MalformedPayload(f"state: expected alerting, ok, no_data, pending or paused, got {state!r}")


def _matches(document: JsonObject) -> list[tuple[str, float | None, dict[str, str]]]:
    found = []
    for index, item in enumerate(get_list(document, "evalMatches", "")):
        path = join("evalMatches", index)
        match = expect_object(item, path)
        found.append(
            (text(match, "metric", path), to_float(match.get("value")), get_str_map(match, "tags", path))
        )
    return found


def _describe(matches: list[tuple[str, float | None, dict[str, str]]]) -> str:
    parts = []
    for metric, value, tags in matches:
        series = ", ".join(f"{key}={tag}" for key, tag in sorted(tags.items()))
        label = f"{metric}{{{series}}}" if series else metric
        parts.append(f"{label}={value:g}" if value is not None else label)
    return "; ".join(parts)


def read(document: JsonObject, options: ParseOptions) -> ParsedDelivery:
    """One legacy notification (see the module docstring)."""
    name = require_str(document, "ruleName", "")
    rule_id = get_str(document, "ruleId", "")
    state = require_str(document, "state", "").strip().lower()
    message = text(document, "message", "")
    if name == "Test notification" and message.strip().lower().startswith(_TEST_MESSAGE):
        return ParsedDelivery(kind=DeliveryKind.TEST)
    decided = _status(state, options)
    matches = _matches(document)
    tags = get_str_map(document, "tags", "")
    links = non_empty([get_str(document, "ruleUrl", ""), get_str(document, "imageUrl", "")])
    title = text(document, "title", "")
    org = get_str(document, "orgId", "")
    annotations = {
        "state": state,
        "title": title,
        "message": message,
        "matches": _describe(matches),
        "org_id": org or "",
        "dashboard_id": get_str(document, "dashboardId", "") or "",
        "panel_id": get_str(document, "panelId", "") or "",
    }
    if decided is None:
        return ParsedDelivery(kind=DeliveryKind.ALERTS)
    status, severity_override = decided
    metric: Metric | None = None
    resource = Resource()
    if matches:
        metric_name, value, series = matches[0]
        metric = Metric(namespace="grafana", name=metric_name or None, dimensions=series, value=value)
        resource = resource_from_labels(series)
    if resource.type is None:
        resource = resource_from_labels(tags)
    alert = NormalizedAlert(
        source="grafana",
        fingerprint=stable_hash("grafana-legacy", org or "", rule_id or name),
        name=name,
        status=status,
        severity=severity_override or severity_from_word(tags.get("severity")),
        summary=message or title,
        description=message,
        resource=resource,
        metric=metric,
        labels=tags,
        annotations={key: value for key, value in annotations.items() if value},
        links=links,
    )
    return ParsedDelivery(kind=DeliveryKind.ALERTS, alerts=[alert])
