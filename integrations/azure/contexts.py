"""The ``alertContext`` of each Azure Monitor alert kind: metric, notes and links.

``monitoringService`` (and ``conditionType``) select the shape: metric criteria
(``allOf[]`` with ``metricName``, threshold as a *string*), log search v2 (``LogQueryCriteria``),
log search v1 (``SearchQuery``/``Threshold``/``ResultCount``), activity log, smart detector and
cost budget alerts. ``affected`` collects what names the affected resources (v1
``AffectedConfigurationItems``, and ``Computer``/``_ResourceId``/``ResourceId`` dimensions),
from which `integrations.azure.targets` chooses the alert's resource.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.alerts.normalized import Metric
from integrations.azure.targets import RESOURCE_DIMENSIONS
from integrations.common.payload import (
    JsonObject,
    expect_object,
    get_list,
    get_object,
    get_str,
    get_str_map,
    join,
    malformed,
    non_empty,
    text,
    to_float,
)

_LOG_NAMESPACE = "Log Analytics"


@dataclass(slots=True)
class ContextFacts:
    metric: Metric | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    title: str = ""
    affected: list[str] = field(default_factory=list)  # values naming the affected resources


def _resource_values(dimensions: dict[str, str]) -> list[str]:
    return [value for name, value in dimensions.items() if name.lower() in RESOURCE_DIMENSIONS and value]


def _criteria(context: JsonObject, path: str) -> list[tuple[JsonObject, str]]:
    condition_path = join(path, "condition")
    condition = get_object(context, "condition", path)
    found = []
    for index, item in enumerate(get_list(condition, "allOf", condition_path)):
        item_path = join(join(condition_path, "allOf"), index)
        found.append((expect_object(item, item_path), item_path))
    return found


def _criterion_metric(criterion: JsonObject, path: str, *, log_query: bool) -> Metric:
    return Metric(
        namespace=get_str(criterion, "metricNamespace", path) or (_LOG_NAMESPACE if log_query else None),
        name=get_str(criterion, "metricName", path)
        or get_str(criterion, "metricMeasureColumn", path)
        or ("count" if log_query else None),
        dimensions=get_str_map(criterion, "dimensions", path, pairs=True),
        statistic=get_str(criterion, "timeAggregation", path),
        threshold=to_float(criterion.get("threshold")),
        value=to_float(criterion.get("metricValue")),
    )


def metric_context(context: JsonObject, path: str) -> ContextFacts:
    """Metric alerts (static, dynamic, multi-resource, web test) and log search v2."""
    facts = ContextFacts()
    log_query = text(context, "conditionType", path) == "LogQueryCriteria"
    criteria = _criteria(context, path)
    if criteria:
        first, first_path = criteria[0]
        facts.metric = _criterion_metric(first, first_path, log_query=log_query)
        for criterion, criterion_path in criteria:
            dimensions = get_str_map(criterion, "dimensions", criterion_path, pairs=True)
            facts.affected.extend(_resource_values(dimensions))
        facts.annotations["operator"] = text(first, "operator", first_path)
        facts.annotations["search_query"] = text(first, "searchQuery", first_path)
        facts.annotations["alert_sensitivity"] = text(first, "alertSensitivity", first_path)
        facts.links = non_empty(
            [
                get_str(first, "linkToFilteredSearchResultsUI", first_path),
                get_str(first, "linkToSearchResultsUI", first_path),
            ]
        )
    facts.annotations["condition_type"] = text(context, "conditionType", path)
    facts.annotations["window_size"] = text(
        get_object(context, "condition", path), "windowSize", join(path, "condition")
    )
    return facts


def _configuration_items(context: JsonObject, path: str) -> list[str]:
    items = []
    for index, item in enumerate(get_list(context, "AffectedConfigurationItems", path)):
        if not isinstance(item, str):
            raise malformed(join(join(path, "AffectedConfigurationItems"), index), "expected a string")
        if item.strip():
            items.append(item.strip())
    return items


def log_v1_context(context: JsonObject, path: str) -> ContextFacts:
    """Log Analytics / Application Insights log alerts, the pre-2021 (v1) shape."""
    dimensions = get_str_map(context, "Dimensions", path, pairs=True)
    return ContextFacts(
        affected=[*_configuration_items(context, path), *_resource_values(dimensions)],
        metric=Metric(
            namespace=_LOG_NAMESPACE,
            name="ResultCount",
            dimensions=dimensions,
            threshold=to_float(context.get("Threshold")),
            value=to_float(context.get("ResultCount")),
        ),
        annotations={
            "search_query": text(context, "SearchQuery", path),
            "alert_type": text(context, "AlertType", path),
            "operator": text(context, "Operator", path),
            "workspace_id": text(context, "WorkspaceId", path),
        },
        links=non_empty(
            [
                get_str(context, "LinkToFilteredSearchResultsUI", path),
                get_str(context, "LinkToSearchResults", path),
            ]
        ),
    )


def activity_log_context(context: JsonObject, path: str) -> ContextFacts:
    properties = get_object(context, "properties", path)
    properties_path = join(path, "properties")
    annotations = {
        "operation_name": text(context, "operationName", path),
        "caller": text(context, "caller", path),
        "status": text(context, "status", path),
        "event_source": text(context, "eventSource", path),
        "event_timestamp": text(context, "eventTimestamp", path),
        "correlation_id": text(context, "correlationId", path),
    }
    for key in (
        "currentHealthStatus",
        "previousHealthStatus",
        "cause",
        "type",
        "stage",
        "trackingId",
        "incidentType",
        "service",
        "region",
        "impactStartTime",
        "impactMitigationTime",
    ):
        value = properties.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            annotations[key] = str(value)
    return ContextFacts(
        annotations=annotations,
        title=text(properties, "title", properties_path) or text(properties, "message", properties_path),
    )


def smart_detector_context(context: JsonObject, path: str) -> ContextFacts:
    annotations = {
        key: text(context, key, path)
        for key in (
            "DetectionSummary",
            "DetectedValue",
            "NormalValue",
            "DetectedFailureRate",
            "NormalFailureRate",
            "SmartDetectorName",
            "FormattedOccurrenceTime",
            "FormattedOccurenceTime",
        )
        if isinstance(context.get(key), str | int | float)
    }
    return ContextFacts(annotations=annotations, title=text(context, "DetectionSummary", path))


def cost_context(context: JsonObject, path: str) -> ContextFacts:
    data = get_object(context, "AlertData", path)
    data_path = join(path, "AlertData")
    return ContextFacts(
        metric=Metric(
            namespace="Microsoft.CostManagement",
            name=(text(data, "ThresholdType", data_path) or "Actual")
            + (text(data, "BudgetType", data_path) or "Cost"),
            threshold=to_float(data.get("NotificationThresholdAmount")),
            value=to_float(data.get("SpentAmount")),
            unit=get_str(data, "Unit", data_path),
        ),
        annotations={
            "budget_name": text(data, "BudgetName", data_path),
            "budget_id": text(data, "BudgetId", data_path),
            "budget_threshold": text(data, "BudgetThreshold", data_path),
            "scope": text(data, "Scope", data_path),
            "alert_category": text(context, "AlertCategory", path),
        },
    )


def context_facts(monitoring_service: str, context: JsonObject, path: str) -> ContextFacts:
    service = monitoring_service.lower()
    if service == "costalerts":
        return cost_context(context, path)
    if service.startswith("activity log") or service in ("servicehealth", "resource health"):
        return activity_log_context(context, path)
    if service in ("smartdetector", "smart detector"):
        return smart_detector_context(context, path)
    if "SearchQuery" in context or "Threshold" in context:
        return log_v1_context(context, path)
    return metric_context(context, path)
