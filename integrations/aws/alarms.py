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
from integrations.common.payload import non_empty, to_float

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
