"""What a CloudWatch alarm state change means, shared by the SNS and EventBridge parsers.

- ``ALARM`` → firing, ``OK`` → resolved; ``INSUFFICIENT_DATA`` per `ParseOptions`
  (default: firing with severity warning).
- CloudWatch alarms carry no severity: an ``ALARM`` is ``unknown`` severity.
- The same alarm (account, region, name) gets the same fingerprint over SNS and EventBridge.
- Resource: the first dimension set that names a known resource (see `resources`), else the
  alarm itself (``cloudwatch:alarm``), which is what composite alarms always get.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.alerts.normalized import AlertStatus, Metric, NormalizedAlert, Severity
from bot.errors import MalformedPayload
from integrations.aws.resources import (
    alarm_console_link,
    alarm_fingerprint,
    alarm_resource,
    resource_from_dimensions,
)
from integrations.base import ParseOptions
from integrations.common.payload import (
    JsonObject,
    expect_object,
    get_list,
    get_object,
    get_str,
    get_str_map,
    join,
    non_empty,
    to_float,
)

_VALUE_IN_REASON = (
    re.compile(r"datapoints?\s*\[\s*([-+]?[0-9][0-9.eE+-]*)"),
    re.compile(r"datapoint\s*\(\s*([-+]?[0-9][0-9.eE+-]*)\s*\)"),
)


def status_for_state(state: str, path: str, options: ParseOptions) -> tuple[AlertStatus, Severity]:
    normalized = state.strip().upper()
    if normalized == "ALARM":
        return AlertStatus.FIRING, Severity.UNKNOWN
    if normalized == "OK":
        return AlertStatus.RESOLVED, Severity.UNKNOWN
    if normalized == "INSUFFICIENT_DATA":
        if options.insufficient_data_status.strip().lower() == AlertStatus.RESOLVED.value:
            return AlertStatus.RESOLVED, Severity.UNKNOWN
        return AlertStatus.FIRING, options.insufficient_data_severity
    raise MalformedPayload(f"{path}: expected ALARM, OK or INSUFFICIENT_DATA, got {state!r}")


@dataclass(frozen=True, slots=True)
class MetricQueryKeys:
    """Key names of an alarm's metric queries: SNS spells them in PascalCase, EventBridge in camelCase."""

    metrics: str
    expression: str
    return_data: str
    metric_stat: str
    metric: str
    namespace: str
    name: str
    dimensions: str
    stat: str
    unit: str


SNS_KEYS = MetricQueryKeys(
    "Metrics",
    "Expression",
    "ReturnData",
    "MetricStat",
    "Metric",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Stat",
    "Unit",
)
EVENTBRIDGE_KEYS = MetricQueryKeys(
    "metrics",
    "expression",
    "returnData",
    "metricStat",
    "metric",
    "namespace",
    "name",
    "dimensions",
    "stat",
    "unit",
)


@dataclass(frozen=True, slots=True)
class MetricQueries:
    chosen: Metric | None  # the metric the alarm is about (the one returning data, else the first)
    dimension_sets: list[dict[str, str]]  # the chosen metric's first
    expression: str  # the math or ANOMALY_DETECTION_BAND expression that returns data, if any


def read_metric_queries(
    container: JsonObject, path: str, keys: MetricQueryKeys, *, threshold: float | None, value: float | None
) -> MetricQueries:
    """Read a metric-math / anomaly-band alarm's queries, whichever casing the transport uses."""
    chosen: Metric | None = None
    dimension_sets: list[dict[str, str]] = []
    expression = ""
    for index, item in enumerate(get_list(container, keys.metrics, path)):
        entry_path = join(join(path, keys.metrics), index)
        entry = expect_object(item, entry_path)
        entry_expression = get_str(entry, keys.expression, entry_path)
        if entry_expression and entry.get(keys.return_data) is not False:
            expression = entry_expression
        stat = get_object(entry, keys.metric_stat, entry_path)
        if not stat:
            continue
        stat_path = join(entry_path, keys.metric_stat)
        metric_obj = get_object(stat, keys.metric, stat_path)
        metric_path = join(stat_path, keys.metric)
        dimensions = get_str_map(metric_obj, keys.dimensions, metric_path, pairs=True)
        candidate = Metric(
            namespace=get_str(metric_obj, keys.namespace, metric_path),
            name=get_str(metric_obj, keys.name, metric_path),
            dimensions=dimensions,
            statistic=get_str(stat, keys.stat, stat_path),
            threshold=threshold,
            value=value,
            unit=get_str(stat, keys.unit, stat_path),
        )
        if chosen is None or entry.get(keys.return_data) is True:
            chosen = candidate
            dimension_sets.insert(0, dimensions)
        else:
            dimension_sets.append(dimensions)
    return MetricQueries(chosen, dimension_sets, expression)


def value_from_reason(reason: str | None) -> float | None:
    """The newest datapoint quoted in a state reason ("... datapoints [99.5 (02/10/19 16:59:00)] ...")."""
    if not reason:
        return None
    for pattern in _VALUE_IN_REASON:
        found = pattern.search(reason)
        if found:
            return to_float(found.group(1))
    return None


@dataclass(slots=True)
class AlarmChange:
    """The facts of one alarm state change, whichever transport carried them."""

    name: str
    state: str
    state_path: str
    arn: str | None = None
    account: str | None = None
    region: str | None = None
    changed_at: datetime | None = None
    reason: str = ""
    description: str = ""
    namespace: str | None = None
    metric: Metric | None = None
    # Every dimension set of the alarm's metrics, the alarm's own metric first.
    dimension_sets: Sequence[Mapping[str, str]] = ()
    annotations: dict[str, str] = field(default_factory=dict)


def alert_from_change(change: AlarmChange, *, source: str, options: ParseOptions) -> NormalizedAlert:
    status, severity = status_for_state(change.state, change.state_path, options)
    resource = None
    for dimensions in change.dimension_sets:
        resource = resource_from_dimensions(
            dimensions, namespace=change.namespace, account=change.account, region=change.region
        )
        if resource is not None:
            break
    if resource is None:
        resource = alarm_resource(change.name, change.arn, account=change.account, region=change.region)
    labels = {"alarm_name": change.name}
    if change.dimension_sets:
        labels.update(change.dimension_sets[0])
    annotations = {key: value for key, value in change.annotations.items() if value}
    annotations["state"] = change.state
    return NormalizedAlert(
        source=source,
        fingerprint=alarm_fingerprint(change.account, change.region, change.name),
        name=change.name,
        status=status,
        severity=severity,
        summary=change.reason,
        description=change.description,
        resource=resource,
        metric=change.metric,
        starts_at=change.changed_at if status is AlertStatus.FIRING else None,
        ends_at=change.changed_at if status is AlertStatus.RESOLVED else None,
        labels=labels,
        annotations=annotations,
        links=non_empty([alarm_console_link(change.region, change.name)]),
    )
