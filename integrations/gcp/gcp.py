"""Google Cloud Monitoring webhook notifications (source ``gcp``).

Schema versions 1.2 (full incident), 1.1 (the older, flatter incident: ids, names, state, times,
summary, url) and the console's "test" notification (``version: "test"``, state ``OPEN``),
which gives kind TEST and still yields its alert.

- Status: ``incident.state`` open → firing, closed → resolved (case-insensitive).
- Severity: ``incident.severity`` (1.2: CRITICAL/ERROR/WARNING, "no severity" → unknown), else
  a ``severity`` policy user label.
- Fingerprint: ``incident.incident_id`` (Google's, shared by the open and closed notices).
- Resource: provider gcp, account = project, region = zone/region/location label, type =
  monitored resource type (``gce_instance``), id = ``resource_id`` or the type's id label.
- Metric: type, labels, ``observed_value``/``threshold_value`` (strings) as floats.
- Idempotency key: hash of (incident id, state, started_at, ended_at).

Essential: ``incident`` with ``incident_id`` and ``state``; every other field that is malformed
(``"ended_at": "null"``, a resource that is not an object) is emptied with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.alerts.normalized import AlertStatus, Metric, NormalizedAlert, Provider, Resource, Severity
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions, parse_leniently
from integrations.common.lenient import EssentialFields
from integrations.common.payload import (
    JsonObject,
    get_list,
    get_object,
    get_str,
    get_str_map,
    get_time,
    join,
    non_empty,
    require_str,
    stable_hash,
    text,
    to_float,
)
from integrations.common.severity import severity_from_word

SOURCE = "gcp"
ESSENTIAL = EssentialFields("incident.incident_id", "incident.state")
_PATH = "incident"
_ID_LABELS = (
    "instance_id",
    "function_name",
    "service_name",
    "cluster_name",
    "database_id",
    "bucket_name",
    "topic_id",
    "subscription_id",
    "job_id",
    "module_id",
    "host",
)
_REGION_LABELS = ("zone", "region", "location")


def _status(incident: JsonObject) -> AlertStatus:
    state = require_str(incident, "state", _PATH).strip().lower()
    if state in ("open", "acknowledged"):
        return AlertStatus.FIRING
    if state == "closed":
        return AlertStatus.RESOLVED
    raise MalformedPayload(f"incident.state: expected open or closed, got {state!r}")


def _resource(incident: JsonObject) -> Resource:
    resource = get_object(incident, "resource", _PATH)
    labels = get_str_map(resource, "labels", join(_PATH, "resource"))
    resource_id = text(incident, "resource_id", _PATH) or next(
        (labels[name] for name in _ID_LABELS if labels.get(name)), None
    )
    return Resource(
        provider=Provider.GCP,
        account=labels.get("project_id") or get_str(incident, "scoping_project_id", _PATH),
        region=next((labels[name] for name in _REGION_LABELS if labels.get(name)), None),
        type=get_str(resource, "type", join(_PATH, "resource")),
        id=resource_id or get_str(incident, "resource_name", _PATH),
        name=get_str(incident, "resource_display_name", _PATH)
        or get_str(incident, "resource_name", _PATH)
        or resource_id,
    )


def _metric(incident: JsonObject) -> Metric | None:
    metric = get_object(incident, "metric", _PATH)
    condition = get_object(incident, "condition", _PATH)
    threshold_cond = get_object(condition, "conditionThreshold", join(_PATH, "condition"))
    metric_type = get_str(metric, "type", join(_PATH, "metric"))
    observed = to_float(incident.get("observed_value"))
    threshold = to_float(incident.get("threshold_value"))
    if threshold is None:
        threshold = to_float(threshold_cond.get("thresholdValue"))
    if metric_type is None and observed is None and threshold is None:
        return None
    aggregations = threshold_cond.get("aggregations")
    aligner = None
    if isinstance(aggregations, list) and aggregations and isinstance(aggregations[0], dict):
        aligner = aggregations[0].get("perSeriesAligner")
    return Metric(
        namespace=metric_type.split("/", 1)[0] if metric_type and "/" in metric_type else None,
        name=metric_type,
        dimensions=get_str_map(metric, "labels", join(_PATH, "metric")),
        statistic=aligner if isinstance(aligner, str) else None,
        threshold=threshold,
        value=observed,
    )


def _documentation(incident: JsonObject) -> tuple[str, str, list[str]]:
    """(content, subject, links): documentation is an object in 1.2 but a string in tests."""
    raw = incident.get("documentation")
    if isinstance(raw, str):
        return raw, "", []
    documentation = get_object(incident, "documentation", _PATH)
    doc_path = join(_PATH, "documentation")
    links = [
        str(item["url"])
        for item in get_list(documentation, "links", doc_path)
        if isinstance(item, dict) and isinstance(item.get("url"), str)
    ]
    return text(documentation, "content", doc_path), text(documentation, "subject", doc_path), links


def _severity(incident: JsonObject, user_labels: Mapping[str, str]) -> Severity:
    severity = severity_from_word(get_str(incident, "severity", _PATH))
    if severity is Severity.UNKNOWN:
        severity = severity_from_word(user_labels.get("severity"))
    return severity


def parse(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    """Parse a Cloud Monitoring webhook notification."""
    return parse_leniently(body, ESSENTIAL, _read)


def _read(document: JsonObject) -> ParsedDelivery:
    if "incident" not in document:
        raise MalformedPayload("incident: required")
    incident = get_object(document, "incident", "")
    incident_id = require_str(incident, "incident_id", _PATH)
    status = _status(incident)
    policy_labels = get_str_map(incident, "policy_user_labels", _PATH)
    metadata = get_object(incident, "metadata", _PATH)
    labels = {**get_str_map(metadata, "user_labels", join(_PATH, "metadata")), **policy_labels}
    content, subject, doc_links = _documentation(incident)
    condition = get_object(incident, "condition", _PATH)
    started = get_time(incident, "started_at", _PATH)
    ended = get_time(incident, "ended_at", _PATH)
    annotations = {
        "condition_name": text(incident, "condition_name", _PATH),
        "condition": text(condition, "name", join(_PATH, "condition")),
        "resource_name": text(incident, "resource_name", _PATH),
        "resource_type_display_name": text(incident, "resource_type_display_name", _PATH),
        "subject": subject,
    }
    alert = NormalizedAlert(
        source=SOURCE,
        fingerprint=incident_id,
        name=text(incident, "policy_name", _PATH) or text(incident, "condition_name", _PATH) or incident_id,
        status=status,
        severity=_severity(incident, labels),
        summary=text(incident, "summary", _PATH) or subject,
        description=content,
        resource=_resource(incident),
        metric=_metric(incident),
        starts_at=started,
        ends_at=ended if status is AlertStatus.RESOLVED else None,
        labels=labels,
        annotations={key: value for key, value in annotations.items() if value},
        links=non_empty(
            [get_str(incident, "url", _PATH), get_str(incident, "apigee_url", _PATH), *doc_links]
        ),
    )
    is_test = (get_str(document, "version", "") or "").strip().lower() == "test"
    return ParsedDelivery(
        kind=DeliveryKind.TEST if is_test else DeliveryKind.ALERTS,
        alerts=[alert],
        idempotency_key=f"{SOURCE}:{stable_hash(incident_id, status.value, str(started), str(ended))}",
    )
