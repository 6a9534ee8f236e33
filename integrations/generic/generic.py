"""Cloud Conductor's own alert format (source ``generic``), for everything without a parser.

The body is one alert object, or ``{"id": "...", "alerts": [alert, ...]}``. An alert uses the
normalized alert's own field names (docs/sources/generic.md has the full description):

    {
      "name": "CheckoutLatencyHigh",            required
      "status": "firing",                       required: firing | resolved
      "severity": "error",                      critical | error | warning | info | unknown
      "fingerprint": "checkout-latency",        optional; default: hash of name, resource, labels
      "summary": "...", "description": "...",
      "resource": {"provider": "aws", "account": "123456789012", "region": "eu-west-1",
                   "type": "ecs:service", "id": "prod/checkout", "name": "checkout"},
      "metric": {"namespace": "app", "name": "latency_p99", "dimensions": {"route": "/pay"},
                 "statistic": "p99", "threshold": 1.5, "value": "2.3", "unit": "Seconds"},
      "starts_at": "2024-05-01T10:00:00Z", "ends_at": null,
      "labels": {...}, "annotations": {...}, "links": ["https://..."]
    }

Strict where identity depends on it (the essential fields: ``name``, ``status``, ``fingerprint``,
and the ``resource`` and ``labels`` the default fingerprint is made of); a malformed optional
field (a time, the metric, annotations, links) is emptied with a warning. Tolerant of the rest:
unknown keys are ignored; numbers may be strings; dimensions may be a list of name/value pairs;
severity words such as "page" or "warn" are mapped.
Idempotency key: ``id`` when given (a batch's, or a single alert's own), else a hash of each
alert's fingerprint, status and times.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.alerts.normalized import AlertStatus, Metric, NormalizedAlert, Provider, Resource, Severity
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions, parse_leniently
from integrations.common.lenient import EssentialFields
from integrations.common.payload import (
    JsonObject,
    expect_list,
    expect_object,
    get_list,
    get_object,
    get_str,
    get_str_map,
    get_time,
    join,
    malformed,
    require_str,
    stable_hash,
    text,
    to_float,
)
from integrations.common.severity import severity_from_word

SOURCE = "generic"
_IDENTITY = (
    "name",
    "status",
    "fingerprint",
    "labels",
    *(f"resource.{key}" for key in ("provider", "account", "region", "type", "id")),
)
ESSENTIAL = EssentialFields("id", *_IDENTITY, *(f"alerts[*].{field}" for field in _IDENTITY))


def _status(alert: JsonObject, path: str) -> AlertStatus:
    raw = require_str(alert, "status", path)
    try:
        return AlertStatus(raw.strip().lower())
    except ValueError:
        raise MalformedPayload(f"{join(path, 'status')}: expected firing or resolved, got {raw!r}") from None


def _severity(alert: JsonObject, path: str) -> Severity:
    raw = get_str(alert, "severity", path)
    if raw is None:
        return Severity.UNKNOWN
    try:
        return Severity(raw.strip().lower())
    except ValueError:
        return severity_from_word(raw)


def _resource(alert: JsonObject, path: str) -> Resource:
    resource = get_object(alert, "resource", path)
    resource_path = join(path, "resource")
    provider_raw = (get_str(resource, "provider", resource_path) or "other").strip().lower()
    try:
        provider = Provider(provider_raw)
    except ValueError:
        raise MalformedPayload(
            f"{join(resource_path, 'provider')}: expected aws, azure, gcp, kubernetes or other, "
            f"got {provider_raw!r}"
        ) from None
    return Resource(
        provider=provider,
        account=get_str(resource, "account", resource_path),
        region=get_str(resource, "region", resource_path),
        type=get_str(resource, "type", resource_path),
        id=get_str(resource, "id", resource_path),
        name=get_str(resource, "name", resource_path),
    )


def _metric(alert: JsonObject, path: str) -> Metric | None:
    if alert.get("metric") is None:
        return None
    metric = get_object(alert, "metric", path)
    metric_path = join(path, "metric")
    return Metric(
        namespace=get_str(metric, "namespace", metric_path),
        name=get_str(metric, "name", metric_path),
        dimensions=get_str_map(metric, "dimensions", metric_path, pairs=True),
        statistic=get_str(metric, "statistic", metric_path),
        threshold=to_float(metric.get("threshold")),
        value=to_float(metric.get("value")),
        unit=get_str(metric, "unit", metric_path),
    )


def _links(alert: JsonObject, path: str) -> list[str]:
    links = []
    for index, item in enumerate(get_list(alert, "links", path)):
        if not isinstance(item, str):
            raise malformed(join(join(path, "links"), index), "expected a string")
        links.append(item)
    return links


def alert_from_object(alert: JsonObject, path: str) -> NormalizedAlert:
    name = require_str(alert, "name", path)
    resource = _resource(alert, path)
    labels = get_str_map(alert, "labels", path)
    fingerprint = get_str(alert, "fingerprint", path) or stable_hash(
        "generic",
        name,
        resource.provider.value,
        resource.account,
        resource.region,
        resource.type,
        resource.id,
        sorted(labels.items()),
    )
    status = _status(alert, path)
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=fingerprint,
        name=name,
        status=status,
        severity=_severity(alert, path),
        summary=text(alert, "summary", path),
        description=text(alert, "description", path),
        resource=resource,
        metric=_metric(alert, path),
        starts_at=get_time(alert, "starts_at", path),
        ends_at=get_time(alert, "ends_at", path) if status is AlertStatus.RESOLVED else None,
        labels=labels,
        annotations=get_str_map(alert, "annotations", path),
        links=_links(alert, path),
    )


def parse(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    """Parse one alert or an ``{"alerts": [...]}`` batch in the generic format."""
    return parse_leniently(body, ESSENTIAL, _read)


def _read(document: JsonObject) -> ParsedDelivery:
    if "alerts" in document:
        items = expect_list(document["alerts"], "alerts")
        alerts = [
            alert_from_object(expect_object(item, join("alerts", i)), join("alerts", i))
            for i, item in enumerate(items)
        ]
    else:
        alerts = [alert_from_object(document, "")]
    delivery_id = get_str(document, "id", "")  # a batch's id, or a single alert's own
    if delivery_id:
        key = f"{SOURCE}:{delivery_id}"
    else:
        content = sorted((a.fingerprint, a.status.value, str(a.starts_at), str(a.ends_at)) for a in alerts)
        key = f"{SOURCE}:{stable_hash(content)}"
    return ParsedDelivery(kind=DeliveryKind.ALERTS, alerts=alerts, idempotency_key=key)
