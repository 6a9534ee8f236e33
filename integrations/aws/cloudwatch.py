"""CloudWatch alarms delivered by Amazon SNS to an HTTPS endpoint (source ``cloudwatch``).

Accepted bodies (SNS sends them as ``Content-Type: text/plain``; the body is JSON regardless):

- ``Type: Notification``: the alarm JSON is a *string* in ``Message`` (``Subject`` optional).
  A Message that is an EventBridge event (EventBridge → SNS) is handed to the EventBridge parser.
  Any other message on the topic (plain text, an Auto Scaling or RDS notification) is
  acknowledged and kept as a dead letter: ``unsupported event type`` ``sns text message``,
  the ``Event`` it names (``autoscaling:EC2_INSTANCE_LAUNCH``), or ``sns json message``.
- ``Type: SubscriptionConfirmation``: kind SUBSCRIPTION_CONFIRMATION with ``subscribe_url`` and
  ``topic_arn``; no alert. The ingest stage confirms (after verifying the signature).
- ``Type: UnsubscribeConfirmation``: kind UNSUBSCRIBE_CONFIRMATION; no alert.
- The bare alarm JSON (SNS "raw message delivery"): no signature, so it needs another credential.

Alarm shapes: single metric (``Trigger.MetricName``), metric math (``Trigger.Metrics[]``),
anomaly band (``ANOMALY_DETECTION_BAND``, no ``Threshold``) and composite (``AlarmRule``, no
``Trigger``). ``Region`` is a display name ("EU (Ireland)", "EU - Ireland") unless the alarm
ARN says better. Idempotency key: the SNS ``MessageId`` (reused by SNS on retries); for raw
delivery the ``x-amz-sns-message-id`` header, else a hash of the alarm's state change.

Essential: ``Type``, ``MessageId``, ``SubscribeURL`` (confirmations), the alarm's ``AlarmName``
and ``NewStateValue`` (or what the EventBridge parser holds essential in an event); every
other malformed field of the alarm is emptied with a warning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.alerts.normalized import Metric
from bot.errors import MalformedPayload
from integrations.aws import eventbridge
from integrations.aws.alarms import (
    SNS_KEYS,
    AlarmChange,
    alert_from_change,
    read_metric_queries,
    value_from_reason,
)
from integrations.aws.eventbridge import delivery_from_event
from integrations.aws.regions import account_from_arn, region_code, region_from_arn
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions, parse_leniently, unsupported
from integrations.common.lenient import EssentialFields
from integrations.common.payload import (
    JsonObject,
    get_object,
    get_str,
    get_str_map,
    get_time,
    header,
    join,
    require_str,
    stable_hash,
    text,
    to_float,
)

SOURCE = "cloudwatch"
_NOTIFICATION = "Notification"
_SUBSCRIBE = "SubscriptionConfirmation"
_UNSUBSCRIBE = "UnsubscribeConfirmation"
ESSENTIAL = EssentialFields(
    "Type",
    "MessageId",
    "SubscribeURL",
    "Message.AlarmName",
    "Message.NewStateValue",
    "AlarmName",  # raw message delivery: the alarm is the body
    "NewStateValue",
    *eventbridge.ESSENTIAL.under("Message").patterns,
)


def _metric_and_dimensions(
    message: JsonObject, path: str
) -> tuple[Metric | None, list[dict[str, str]], dict[str, str]]:
    """The alarm's metric, every dimension set (its own first) and notes for annotations."""
    trigger_path = join(path, "Trigger")
    trigger = get_object(message, "Trigger", path)
    notes: dict[str, str] = {}
    if not trigger:
        notes["alarm_rule"] = text(message, "AlarmRule", path)
        return None, [], notes
    threshold = to_float(trigger.get("Threshold"))
    value = value_from_reason(get_str(message, "NewStateReason", path))
    notes["comparison"] = text(trigger, "ComparisonOperator", trigger_path)
    if trigger.get("MetricName") is not None:
        dimensions = get_str_map(trigger, "Dimensions", trigger_path, pairs=True)
        metric = Metric(
            namespace=get_str(trigger, "Namespace", trigger_path),
            name=get_str(trigger, "MetricName", trigger_path),
            dimensions=dimensions,
            statistic=get_str(trigger, "Statistic", trigger_path)
            or get_str(trigger, "ExtendedStatistic", trigger_path),
            threshold=threshold,
            value=value,
            unit=get_str(trigger, "Unit", trigger_path),
        )
        return metric, [dimensions], notes
    queries = read_metric_queries(trigger, trigger_path, SNS_KEYS, threshold=threshold, value=value)
    if queries.expression:
        notes["expression"] = queries.expression
    return queries.chosen, queries.dimension_sets, notes


def change_from_alarm_message(message: JsonObject, path: str) -> AlarmChange:
    """Read a CloudWatch alarm notification (the JSON SNS carries in ``Message``)."""
    name = require_str(message, "AlarmName", path)
    arn = get_str(message, "AlarmArn", path)
    metric, dimension_sets, notes = _metric_and_dimensions(message, path)
    notes["old_state"] = text(message, "OldStateValue", path)
    return AlarmChange(
        name=name,
        state=require_str(message, "NewStateValue", path),
        state_path=join(path, "NewStateValue"),
        arn=arn,
        account=get_str(message, "AWSAccountId", path) or account_from_arn(arn),
        region=region_from_arn(arn) or region_code(get_str(message, "Region", path)),
        changed_at=get_time(message, "StateChangeTime", path),
        reason=text(message, "NewStateReason", path),
        description=text(message, "AlarmDescription", path),
        namespace=metric.namespace if metric else None,
        metric=metric,
        dimension_sets=dimension_sets,
        annotations=notes,
    )


def _notification(
    envelope: JsonObject, options: ParseOptions, idempotency_key: str, topic_arn: str | None
) -> ParsedDelivery:
    raw = require_str(envelope, "Message", "")
    try:
        inner: Any = json.loads(raw)
    except json.JSONDecodeError:
        return unsupported("sns text message", idempotency_key=idempotency_key, topic_arn=topic_arn)
    if not isinstance(inner, dict):
        return unsupported("sns json message", idempotency_key=idempotency_key, topic_arn=topic_arn)
    message: JsonObject = inner
    if "AlarmName" in message:
        alert = alert_from_change(
            change_from_alarm_message(message, "Message"), source=SOURCE, options=options
        )
        return ParsedDelivery(
            kind=DeliveryKind.ALERTS, alerts=[alert], idempotency_key=idempotency_key, topic_arn=topic_arn
        )
    if "detail-type" in message:
        delivery = delivery_from_event(message, "Message", options, source=SOURCE)
        return replace(delivery, idempotency_key=idempotency_key, topic_arn=topic_arn)
    event = message.get("Event")
    event_type = event.strip() if isinstance(event, str) and event.strip() else "sns json message"
    return unsupported(event_type, idempotency_key=idempotency_key, topic_arn=topic_arn)


def parse(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    """Parse an SNS HTTPS delivery (or a raw-delivered CloudWatch alarm)."""
    return parse_leniently(body, ESSENTIAL, lambda document: _read(document, headers, options))


def _read(document: JsonObject, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    if "Type" not in document:
        if "AlarmName" not in document:
            raise MalformedPayload(
                "body: neither an SNS message (no Type) nor a CloudWatch alarm (no AlarmName)"
            )
        alert = alert_from_change(change_from_alarm_message(document, ""), source=SOURCE, options=options)
        message_id = header(headers, "x-amz-sns-message-id")
        moment = alert.starts_at or alert.ends_at
        key = (
            f"sns:{message_id}"
            if message_id
            else (f"{SOURCE}:{stable_hash(alert.fingerprint, alert.status.value, str(moment))}")
        )
        return ParsedDelivery(kind=DeliveryKind.ALERTS, alerts=[alert], idempotency_key=key)
    message_type = require_str(document, "Type", "")
    key = f"sns:{require_str(document, 'MessageId', '')}"
    topic_arn = get_str(document, "TopicArn", "")
    if message_type == _NOTIFICATION:
        return _notification(document, options, key, topic_arn)
    if message_type == _SUBSCRIBE:
        return ParsedDelivery(
            kind=DeliveryKind.SUBSCRIPTION_CONFIRMATION,
            idempotency_key=key,
            subscribe_url=require_str(document, "SubscribeURL", ""),
            topic_arn=topic_arn,
        )
    if message_type == _UNSUBSCRIBE:
        return ParsedDelivery(
            kind=DeliveryKind.UNSUBSCRIBE_CONFIRMATION, idempotency_key=key, topic_arn=topic_arn
        )
    raise MalformedPayload(
        f"Type: unsupported SNS message type {message_type!r} "
        f"(expected {_NOTIFICATION}, {_SUBSCRIBE} or {_UNSUBSCRIBE})"
    )
