"""Azure Monitor alerts through an action group webhook, common alert schema (source ``azure``).

Decisions:

- Status: ``essentials.monitorCondition`` Fired → firing, Resolved → resolved. Activity-log
  alerts are stateless and always say "Fired", so their real state is read from the context:
  Service Health ``alertContext.status``/``properties.stage`` Resolved (or Mitigated) → resolved;
  Resource Health ``currentHealthStatus: Available`` (or status Resolved) → resolved. Cost budget
  alerts have ``monitorCondition: null`` → firing (a budget notice has no resolution).
- Severity: Sev0..Sev4 → critical, error, warning, info, info; null → unknown, except cost
  budget alerts, which are warnings.
- Resources: ``alertTargetIDs`` parsed as ARM ids (see `arm`). A multi-resource alert with
  several target ids becomes one alert per target, each with its own fingerprint, so each
  resource can be remediated, silenced and resolved on its own. A log search alert (v1
  ``AffectedConfigurationItems``, v2 dimensions) or a metric alert split by ``Computer``,
  ``_ResourceId`` or ``ResourceId`` is about that machine, not the workspace, which is kept as a
  label (see `targets`).
- Fingerprint: Azure's ``alertId`` (kept by Fired and Resolved of one alert); with several
  targets, a hash of alertId and target. Service Health: the incident's ``trackingId`` (each
  update is a new alertId); Resource Health: the rule and the resource.
- The legacy Alerts Management shape (``properties.essentials``, ``targetResource``) is accepted.
- A ``monitoringService`` whose ``alertContext`` this parser does not know (Prometheus, VM
  Insights, ...) still gives an alert from the essentials alone, which the common schema makes
  sound, with ``unsupported_type`` set (counted, and said by ``conductor alerts parse``).
- Essential: ``alertId``, ``alertRule``, ``monitorCondition``, ``monitoringService`` (and the
  context fields that decide the state of Service and Resource Health alerts); any other
  malformed field is emptied with a warning.
- Idempotency key: hash of each alert's (fingerprint, status, fired/resolved times).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Resource, Severity
from bot.errors import MalformedPayload
from integrations.azure.contexts import ContextFacts, context_facts
from integrations.azure.targets import alert_targets, choose
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions, parse_leniently
from integrations.common.lenient import EssentialFields
from integrations.common.payload import (
    JsonObject,
    get_object,
    get_str,
    get_str_map,
    get_time,
    join,
    non_empty,
    stable_hash,
    text,
)

SOURCE = "azure"
_COMMON_SCHEMA = "azuremonitorcommonalertschema"
_SEVERITIES = {
    "sev0": Severity.CRITICAL,
    "sev1": Severity.ERROR,
    "sev2": Severity.WARNING,
    "sev3": Severity.INFO,
    "sev4": Severity.INFO,
}
_RESOLVED_WORDS = {"resolved", "mitigated"}
# monitoringService values whose alertContext this parser reads (spaces and dashes dropped,
# lower case); "Activity Log - *" are matched by prefix. Others become generic alerts.
_KNOWN_SERVICES = {
    "platform",
    "loganalytics",
    "applicationinsights",
    "logalertsv2",
    "servicehealth",
    "resourcehealth",
    "smartdetector",
    "costalerts",
}
ESSENTIAL = EssentialFields(
    "schemaId",
    "data.essentials.alertId",
    "data.essentials.alertRule",
    "data.essentials.monitorCondition",
    "data.essentials.monitoringService",
    "data.alertContext.status",  # Service Health and Resource Health decide their state here
    "data.alertContext.properties.stage",
    "data.alertContext.properties.currentHealthStatus",
    "id",  # the legacy Alerts Management shape
    "properties.essentials.monitorCondition",
    "properties.essentials.alertRule",
    "properties.essentials.monitorService",
)


def _severity(raw: str | None, monitoring_service: str) -> Severity:
    if raw is None:
        return Severity.WARNING if monitoring_service.lower() == "costalerts" else Severity.UNKNOWN
    return _SEVERITIES.get(raw.strip().lower(), Severity.UNKNOWN)


def _service_key(service: str) -> str:
    return service.lower().replace(" ", "").replace("-", "")


def _status(
    essentials: JsonObject, path: str, service: str, context: JsonObject, context_path: str
) -> AlertStatus:
    service_key = _service_key(service)
    context_status = (get_str(context, "status", context_path) or "").strip().lower()
    raw_properties = context.get("properties")
    properties: JsonObject = raw_properties if isinstance(raw_properties, dict) else {}
    if service_key == "servicehealth":
        stage = str(properties.get("stage") or "").strip().lower()
        resolved = context_status in _RESOLVED_WORDS or stage in _RESOLVED_WORDS
        return AlertStatus.RESOLVED if resolved else AlertStatus.FIRING
    if service_key == "resourcehealth":
        health = str(properties.get("currentHealthStatus") or "").strip().lower()
        resolved = health == "available" or context_status in _RESOLVED_WORDS
        return AlertStatus.RESOLVED if resolved else AlertStatus.FIRING
    condition = get_str(essentials, "monitorCondition", path)
    if condition is None:
        return AlertStatus.FIRING
    if condition.strip().lower() == "fired":
        return AlertStatus.FIRING
    if condition.strip().lower() == "resolved":
        return AlertStatus.RESOLVED
    raise MalformedPayload(f"{join(path, 'monitorCondition')}: expected Fired or Resolved, got {condition!r}")


def _fingerprint(
    service: str, essentials: JsonObject, path: str, facts: ContextFacts, resource: Resource, many: bool
) -> str:
    service_key = _service_key(service)
    alert_id = text(essentials, "alertId", path)
    rule = text(essentials, "alertRule", path)
    if service_key == "servicehealth" and facts.annotations.get("trackingId"):
        return stable_hash("azure-servicehealth", resource.account or "", facts.annotations["trackingId"])
    if service_key == "resourcehealth":
        return stable_hash("azure-resourcehealth", rule, (resource.id or "").lower())
    if alert_id and not many:
        return alert_id
    return stable_hash("azure", alert_id or rule, (resource.id or "").lower())


def is_known(service: str) -> bool:
    """Whether this parser reads the ``alertContext`` of a ``monitoringService``."""
    key = _service_key(service)
    return key in _KNOWN_SERVICES or key.startswith("activitylog")


@dataclass(frozen=True, slots=True)
class _Alerts:
    alerts: list[NormalizedAlert]
    unsupported_type: str | None = None


def _alerts(
    essentials: JsonObject,
    path: str,
    context: JsonObject,
    context_path: str,
    *,
    extra_labels: Mapping[str, str],
    alert_id: str,
    default_name: str,
) -> _Alerts:
    service = text(essentials, "monitoringService", path) or text(essentials, "monitorService", path)
    known = is_known(service)
    facts = context_facts(service, context, context_path) if known else ContextFacts()
    status = _status(essentials, path, service, context, context_path)
    fired = get_time(essentials, "firedDateTime", path) or get_time(essentials, "startDateTime", path)
    properties_path = join(context_path, "properties")
    if _service_key(service) == "servicehealth":
        # A Service Health notice is fired per update; the incident began at impactStartTime.
        fired = get_time(facts.annotations, "impactStartTime", properties_path) or fired
    resolved_at: datetime | None = get_time(essentials, "resolvedDateTime", path) or get_time(
        essentials, "monitorConditionResolvedDateTime", path
    )
    if status is AlertStatus.RESOLVED and resolved_at is None:
        resolved_at = get_time(facts.annotations, "impactMitigationTime", properties_path) or fired
    name = text(essentials, "alertRule", path).rsplit("/", 1)[-1] or default_name
    description = text(essentials, "description", path)
    targets = choose(
        alert_targets(essentials, path, scope_id=facts.annotations.get("scope"), alert_id=alert_id),
        facts.affected,
    )
    labels = {
        "monitoring_service": service,
        "signal_type": text(essentials, "signalType", path),
        "alert_rule": text(essentials, "alertRule", path),
        **targets.labels,
        **extra_labels,
    }
    annotations = {key: value for key, value in facts.annotations.items() if value}
    annotations["alert_id"] = alert_id
    links = non_empty([get_str(essentials, "investigationLink", path), *facts.links])
    many = len(targets.resources) > 1
    alerts = [
        NormalizedAlert(
            source=SOURCE,
            fingerprint=_fingerprint(service, essentials, path, facts, target, many),
            name=name,
            status=status,
            severity=_severity(get_str(essentials, "severity", path), service),
            summary=facts.title or description or name,
            description=description,
            resource=target,
            metric=facts.metric,
            starts_at=fired,
            ends_at=resolved_at if status is AlertStatus.RESOLVED else None,
            labels={key: value for key, value in labels.items() if value},
            annotations={key: value for key, value in annotations.items() if value},
            links=links,
        )
        for target in targets.resources
    ]
    return _Alerts(alerts, None if known else (service or "no monitoringService"))


def _common_schema(document: JsonObject) -> _Alerts:
    data = get_object(document, "data", "")
    if not data:
        raise MalformedPayload("data: required")
    essentials = get_object(data, "essentials", "data")
    if not essentials:
        raise MalformedPayload("data.essentials: required")
    context = get_object(data, "alertContext", "data")
    extra = get_str_map(data, "customProperties", "data")
    properties = context.get("properties")
    if isinstance(properties, dict) and text(context, "conditionType", "data.alertContext"):
        extra = {**get_str_map(context, "properties", "data.alertContext"), **extra}
    budget = get_object(context, "AlertData", "data.alertContext")
    return _alerts(
        essentials,
        "data.essentials",
        context,
        "data.alertContext",
        extra_labels=extra,
        alert_id=text(essentials, "alertId", "data.essentials"),
        default_name=text(budget, "BudgetName", "data.alertContext.AlertData") or "Azure alert",
    )


def _legacy_schema(document: JsonObject) -> _Alerts:
    """The Alerts Management resource shape sent by older smart-detection action groups."""
    properties = get_object(document, "properties", "")
    essentials = dict(get_object(properties, "essentials", "properties"))
    target = get_str(essentials, "targetResource", "properties.essentials")
    essentials.setdefault("alertTargetIDs", [target] if target else [])
    essentials.setdefault("alertId", document.get("id"))
    return _alerts(
        essentials,
        "properties.essentials",
        get_object(properties, "context", "properties"),
        "properties.context",
        extra_labels={},
        alert_id=text(document, "id", ""),
        default_name=text(document, "name", "") or "Azure alert",
    )


def parse(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    """Parse an Azure Monitor action group webhook delivery."""
    return parse_leniently(body, ESSENTIAL, _read)


def _read(document: JsonObject) -> ParsedDelivery:
    schema = (get_str(document, "schemaId", "") or "").strip().lower()
    if schema == _COMMON_SCHEMA or (not schema and "data" in document):
        read = _common_schema(document)
    elif "properties" in document and "essentials" in get_object(document, "properties", ""):
        read = _legacy_schema(document)
    else:
        raise MalformedPayload(
            f"schemaId: expected azureMonitorCommonAlertSchema, got {schema or 'nothing'!r} "
            "(turn on the common alert schema in the action group)"
        )
    alerts = read.alerts
    content = sorted((a.fingerprint, a.status.value, str(a.starts_at), str(a.ends_at)) for a in alerts)
    return ParsedDelivery(
        kind=DeliveryKind.ALERTS,
        alerts=alerts,
        idempotency_key=f"{SOURCE}:{stable_hash(content)}",
        unsupported_type=read.unsupported_type,
    )
