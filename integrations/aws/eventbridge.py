"""Amazon EventBridge events (source ``eventbridge``), e.g. from an API destination.

Handled (source, detail-type) pairs:

- ``CloudWatch Alarm State Change`` (aws.cloudwatch): as an SNS alarm, with the same fingerprint;
  ``state.reasonData`` is a JSON *string* (threshold, recent datapoints, anomaly band,
  triggering alarms); dimensions are a map.
- ``CloudWatch Alarm Configuration Change``: no alert (it is not a state change).
- ``Glue Job State Change``, ``Glue Job Run Status``, ``ECS Task State Change``, ``ECS
  Deployment State Change``: see `integrations.aws.service_events`.
- ``ECS Service Action``: `integrations.aws.ecs_service_actions`.
- ``EC2 Instance State-change Notification``: `integrations.aws.ec2_events`.
- ``AWS Health Event`` and ``AWS Health Abuse Event`` (aws.health): `integrations.aws.health_events`.

Any other event is not dropped: it is acknowledged and kept as a dead letter with the reason
``unsupported event type SOURCE: DETAIL-TYPE`` (and counted), for replay once a parser exists.

Essential: the envelope's ``id``, ``source``, ``detail-type`` and ``detail``, and per type the
fields that name the thing and its state (`ESSENTIAL`); other malformed fields are emptied.
Idempotency key: the event ``id`` (EventBridge keeps it across retries).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from bot.alerts.normalized import Metric, NormalizedAlert
from bot.errors import MalformedPayload
from integrations.aws.alarms import (
    EVENTBRIDGE_KEYS,
    AlarmChange,
    alert_from_change,
    read_metric_queries,
    value_from_reason,
)
from integrations.aws.ec2_events import ec2_state_alerts
from integrations.aws.ecs_service_actions import ecs_service_action_alerts
from integrations.aws.health_events import health_alerts
from integrations.aws.service_events import (
    EventContext,
    ecs_deployment_alerts,
    ecs_task_alerts,
    glue_job_alerts,
    glue_run_status_alerts,
)
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions, parse_leniently, unsupported
from integrations.common.lenient import EssentialFields
from integrations.common.payload import (
    JsonObject,
    get_list,
    get_object,
    get_str,
    get_time,
    join,
    require_str,
    text,
    to_float,
)

SOURCE = "eventbridge"
# The envelope, and what names the thing and its state in each handled detail-type.
ESSENTIAL = EssentialFields(
    "id",
    "source",
    "detail-type",
    "detail.alarmName",  # CloudWatch Alarm State Change
    "detail.state.value",
    "detail.jobName",  # Glue
    "detail.state",  # Glue, EC2
    "detail.lastStatus",  # ECS Task State Change
    "detail.eventName",  # ECS Deployment State Change, ECS Service Action
    "detail.eventType",  # ECS Service Action
    "detail.instance-id",  # EC2
    "detail.eventArn",  # AWS Health
    "detail.eventTypeCode",
    "detail.statusCode",
)

Handler = Callable[[JsonObject, str, EventContext], list[NormalizedAlert]]


def _reason_data(state: JsonObject, path: str) -> JsonObject:
    """``reasonData`` is JSON inside a string; unreadable reason data is just absent."""
    raw = state.get("reasonData")
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        return {}
    try:
        decoded: Any = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _first_number(values: Any) -> float | None:
    if isinstance(values, list) and values:
        return to_float(values[0])
    return None


def _alarm_metrics(
    configuration: JsonObject, path: str, reason_data: JsonObject, reason: str
) -> tuple[Metric | None, list[dict[str, str]], dict[str, str]]:
    threshold = to_float(reason_data.get("threshold"))
    value = _first_number(reason_data.get("recentDatapoints"))
    if value is None:
        value = value_from_reason(reason)
    notes: dict[str, str] = {}
    queries = read_metric_queries(configuration, path, EVENTBRIDGE_KEYS, threshold=threshold, value=value)
    if queries.expression:
        notes["expression"] = queries.expression
    lower = _first_number(reason_data.get("recentLowerThresholds"))
    upper = _first_number(reason_data.get("recentUpperThresholds"))
    if lower is not None or upper is not None:
        notes["band"] = f"{lower if lower is not None else ''}..{upper if upper is not None else ''}"
    return queries.chosen, queries.dimension_sets, notes


def _triggering_alarms(reason_data: JsonObject) -> str:
    names = []
    for item in reason_data.get("triggeringAlarms") or []:
        if isinstance(item, dict) and isinstance(item.get("arn"), str):
            names.append(item["arn"].rsplit(":", 1)[-1])
    return ", ".join(names)


def cloudwatch_alarm_change(detail: JsonObject, path: str, context: EventContext) -> AlarmChange:
    state_path = join(path, "state")
    state = get_object(detail, "state", path)
    configuration = get_object(detail, "configuration", path)
    reason = text(state, "reason", state_path)
    reason_data = _reason_data(state, state_path)
    metric, dimension_sets, notes = _alarm_metrics(
        configuration, join(path, "configuration"), reason_data, reason
    )
    notes.update(
        alarm_rule=text(configuration, "alarmRule", join(path, "configuration")),
        triggering_alarms=_triggering_alarms(reason_data),
        actions_suppressed_by=text(state, "actionsSuppressedBy", state_path),
        old_state=text(get_object(detail, "previousState", path), "value", join(path, "previousState")),
    )
    arn = next((arn for arn in context.resources if ":alarm:" in arn), None)
    return AlarmChange(
        name=require_str(detail, "alarmName", path),
        state=require_str(state, "value", state_path),
        state_path=join(state_path, "value"),
        arn=arn,
        account=context.account,
        region=context.region,
        changed_at=get_time(state, "timestamp", state_path) or context.event_time,
        reason=reason,
        description=text(configuration, "description", join(path, "configuration")),
        namespace=metric.namespace if metric else None,
        metric=metric,
        dimension_sets=dimension_sets,
        annotations=notes,
    )


def _no_alert(detail: JsonObject, path: str, context: EventContext) -> list[NormalizedAlert]:
    return []


_HANDLERS: dict[tuple[str, str], Handler] = {
    ("aws.cloudwatch", "CloudWatch Alarm Configuration Change"): _no_alert,
    ("aws.glue", "Glue Job State Change"): glue_job_alerts,
    ("aws.glue", "Glue Job Run Status"): glue_run_status_alerts,
    ("aws.ecs", "ECS Task State Change"): ecs_task_alerts,
    ("aws.ecs", "ECS Deployment State Change"): ecs_deployment_alerts,
    ("aws.ecs", "ECS Service Action"): ecs_service_action_alerts,
    ("aws.ec2", "EC2 Instance State-change Notification"): ec2_state_alerts,
    ("aws.health", "AWS Health Event"): health_alerts,
    ("aws.health", "AWS Health Abuse Event"): health_alerts,
}
_ALARM_STATE_CHANGE = ("aws.cloudwatch", "CloudWatch Alarm State Change")


def delivery_from_event(
    event: JsonObject, path: str, options: ParseOptions, *, source: str = SOURCE
) -> ParsedDelivery:
    """One EventBridge event (also reached from an SNS Message carrying an event)."""
    detail_type = require_str(event, "detail-type", path)
    event_source = require_str(event, "source", path)
    if "detail" not in event:
        raise MalformedPayload(f"{join(path, 'detail')}: required")
    detail = get_object(event, "detail", path)
    resources = [item for item in get_list(event, "resources", path) if isinstance(item, str)]
    event_id = get_str(event, "id", path)
    key = f"eventbridge:{event_id}" if event_id else None
    kind = (event_source, detail_type)
    if kind != _ALARM_STATE_CHANGE and kind not in _HANDLERS:
        return unsupported(f"{event_source}: {detail_type}", idempotency_key=key)
    context = EventContext(
        account=get_str(event, "account", path),
        region=get_str(event, "region", path),
        event_time=get_time(event, "time", path),
        resources=resources,
        source=source,
        options=options,
    )
    detail_path = join(path, "detail")
    alerts: list[NormalizedAlert]
    if kind == _ALARM_STATE_CHANGE:
        change = cloudwatch_alarm_change(detail, detail_path, context)
        alerts = [alert_from_change(change, source=source, options=options)]
    else:
        alerts = _HANDLERS[kind](detail, detail_path, context)
    return ParsedDelivery(kind=DeliveryKind.ALERTS, alerts=alerts, idempotency_key=key)


def parse(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    """Parse one EventBridge event (the whole event, as an API destination sends it)."""
    return parse_leniently(body, ESSENTIAL, lambda event: delivery_from_event(event, "", options))
