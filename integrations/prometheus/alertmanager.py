"""Prometheus Alertmanager webhook (``version: "4"``; ``"3"`` accepted).

One normalized alert per ``alerts[]`` element. Decisions:

- Status comes from each alert's own ``status``; the group's ``status`` is ignored (a "firing"
  group can carry resolved alerts).
- Severity comes from ``labels.severity`` (critical/page, error/major/high, warning/warn/minor,
  info/none/low, else unknown; case-insensitive).
- Fingerprint: Alertmanager's own ``fingerprint``; v3 payloads without one get a hash of the
  label set, which is what Alertmanager's fingerprint is made of too.
- Times: Go's zero time ``0001-01-01T00:00:00Z`` means null. A firing alert never carries
  ``ends_at`` (older senders put the expected expiry there, which is not an end).
- Resource: Kubernetes workload from conventional labels (provider kubernetes), else
  instance/host/service/job. Metric: parsed best-effort from ``generatorURL``'s ``g0.expr``.
- Idempotency key: a hash of ``groupKey`` and each alert's (fingerprint, status, startsAt,
  endsAt), sorted. HA replicas send the same group with different ``externalURL``s and
  receive-order; they all yield the same key. ``truncatedAlerts`` is tolerated and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.alerts.normalized import AlertStatus, NormalizedAlert
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions
from integrations.common.payload import (
    JsonObject,
    expect_object,
    get_list,
    get_str,
    get_str_map,
    get_time,
    join,
    load_json_object,
    non_empty,
    stable_hash,
)
from integrations.common.severity import severity_from_word
from integrations.prometheus.labels import (
    expression_from_generator_url,
    metric_from_expression,
    resource_from_labels,
)

SOURCE = "alertmanager"
_SUPPORTED_VERSIONS = {"3", "4"}
_LINK_ANNOTATIONS = ("runbook_url", "runbook", "dashboard_url", "dashboard", "playbook")


def alert_status(element: JsonObject, path: str) -> AlertStatus:
    raw = get_str(element, "status", path)
    if raw is None:
        raise MalformedPayload(f"{join(path, 'status')}: required (firing or resolved)")
    try:
        return AlertStatus(raw.strip().lower())
    except ValueError:
        raise MalformedPayload(f"{join(path, 'status')}: expected firing or resolved, got {raw!r}") from None


def alert_from_element(element: JsonObject, path: str, *, source: str) -> NormalizedAlert:
    """One Alertmanager-style alert object (also used by the Grafana parser)."""
    status = alert_status(element, path)
    labels = get_str_map(element, "labels", path)
    annotations = get_str_map(element, "annotations", path)
    fingerprint = get_str(element, "fingerprint", path) or stable_hash(sorted(labels.items()))
    generator_url = get_str(element, "generatorURL", path)
    starts_at = get_time(element, "startsAt", path)
    ends_at = get_time(element, "endsAt", path) if status is AlertStatus.RESOLVED else None
    links = non_empty(
        [generator_url if generator_url and "://" in generator_url else None]
        + [annotations.get(key) for key in _LINK_ANNOTATIONS if "://" in annotations.get(key, "")]
    )
    return NormalizedAlert(
        source=source,
        fingerprint=fingerprint,
        name=labels.get("alertname") or "unnamed",
        status=status,
        severity=severity_from_word(labels.get("severity")),
        summary=annotations.get("summary") or annotations.get("message") or annotations.get("title", ""),
        description=annotations.get("description", ""),
        resource=resource_from_labels(labels),
        metric=metric_from_expression(expression_from_generator_url(generator_url), annotations),
        starts_at=starts_at,
        ends_at=ends_at,
        labels=labels,
        annotations=annotations,
        links=links,
    )


def alerts_of_group(document: JsonObject, *, source: str) -> list[NormalizedAlert]:
    alerts: list[NormalizedAlert] = []
    for index, item in enumerate(get_list(document, "alerts", "")):
        path = join("alerts", index)
        alerts.append(alert_from_element(expect_object(item, path), path, source=source))
    return alerts


def group_idempotency_key(source: str, group_key: str, alerts: list[NormalizedAlert]) -> str:
    """Same group content → same key, whichever HA replica sent it and in whatever order."""
    content = sorted(
        (
            alert.fingerprint,
            alert.status.value,
            alert.starts_at.isoformat() if alert.starts_at else "",
            alert.ends_at.isoformat() if alert.ends_at else "",
        )
        for alert in alerts
    )
    return f"{source}:{stable_hash(group_key, content)}"


def group_key_of(document: Mapping[str, object]) -> str:
    raw = document.get("groupKey")
    return "" if raw is None else str(raw)


def parse(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    """Parse an Alertmanager webhook delivery."""
    document = load_json_object(body)
    version = get_str(document, "version", "")
    if version is not None and version.strip() not in _SUPPORTED_VERSIONS:
        raise MalformedPayload(
            f"version: unsupported Alertmanager webhook version {version!r} (expected 4 or 3)"
        )
    if "alerts" not in document:
        raise MalformedPayload("alerts: required")
    alerts = alerts_of_group(document, source=SOURCE)
    return ParsedDelivery(
        kind=DeliveryKind.ALERTS,
        alerts=alerts,
        idempotency_key=group_idempotency_key(SOURCE, group_key_of(document), alerts),
    )
