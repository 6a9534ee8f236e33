"""The contract between the ingest stage and each source's parser.

A parser is a pure function: raw bytes and headers in, a `ParsedDelivery` out, or
`MalformedPayload` with a reason a human can act on. It never touches the network or the store.

A screen is the webhook route's half of a parser: it checks everything the parser would refuse
and returns only what the route needs before its 202 (an `Envelope`: kind, alert count,
idempotency key), without building normalized alerts; the workers parse the stored body in full
later. A source without a screen of its own is screened by parsing it (`envelope_of`).

Nothing authenticated is dropped silently: a delivery whose event type the source's parser does
not handle is either parsed into a generic alert (`unsupported_type` set, kind ALERTS) or has
kind UNSUPPORTED, which the workers keep as a dead letter with the reason
``unsupported event type <type>``. A malformed optional field is emptied and reported in
`warnings` (see `integrations.common.lenient`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from bot.alerts.normalized import NormalizedAlert, Severity
from integrations.common.lenient import EssentialFields, FieldWarning, read_leniently
from integrations.common.payload import JsonObject, load_json_object


class DeliveryKind(StrEnum):
    ALERTS = "alerts"  # an ordinary delivery carrying zero or more alerts
    SUBSCRIPTION_CONFIRMATION = "subscription_confirmation"  # SNS: confirm by GET SubscribeURL
    UNSUBSCRIBE_CONFIRMATION = "unsubscribe_confirmation"  # SNS: record, no alert
    TEST = "test"  # a vendor's "test notification"; produces its alerts, if the vendor sends any
    UNSUPPORTED = "unsupported"  # an event type this source's parser does not handle: dead letter


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """Per-source knobs from config that change what a payload means."""

    # CloudWatch INSUFFICIENT_DATA: "firing" (default) or "resolved"; severity when it fires.
    insufficient_data_status: str = "firing"
    insufficient_data_severity: Severity = Severity.WARNING
    # Grafana legacy alerting "no_data": "firing" (default), "resolved" or "ignore" (no alert).
    grafana_no_data_status: str = "firing"
    grafana_no_data_severity: Severity = Severity.WARNING
    # EventBridge EC2 Instance State-change Notification: the states that fire (a later
    # "running" resolves), and instances (fnmatch patterns) whose stops are expected.
    ec2_alert_states: Sequence[str] = ("stopped", "terminated")
    ec2_expected_instances: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ParsedDelivery:
    kind: DeliveryKind
    alerts: list[NormalizedAlert] = field(default_factory=list)
    # Stable across re-deliveries of the same message (SNS MessageId, PagerDuty webhook id,
    # an Alertmanager group's content hash, ...). None: the ingest stage hashes the body.
    idempotency_key: str | None = None
    subscribe_url: str | None = None  # SubscriptionConfirmation only
    topic_arn: str | None = None  # SNS only
    # The event type the parser does not handle (kind UNSUPPORTED, or a generic alert), e.g.
    # "aws.ec2/EC2 Spot Instance Interruption Warning" or an Azure "monitoringService".
    unsupported_type: str | None = None
    warnings: tuple[FieldWarning, ...] = ()  # optional fields that were malformed and emptied


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the webhook route must know about a delivery before it answers."""

    kind: DeliveryKind
    alert_count: int
    idempotency_key: str | None = None  # as ParsedDelivery.idempotency_key
    subscribe_url: str | None = None
    topic_arn: str | None = None
    unsupported_type: str | None = None
    warnings: tuple[FieldWarning, ...] = ()


def envelope_of(parsed: ParsedDelivery) -> Envelope:
    return Envelope(
        kind=parsed.kind,
        alert_count=len(parsed.alerts),
        idempotency_key=parsed.idempotency_key,
        subscribe_url=parsed.subscribe_url,
        topic_arn=parsed.topic_arn,
        unsupported_type=parsed.unsupported_type,
        warnings=parsed.warnings,
    )


def unsupported(
    event_type: str, *, idempotency_key: str | None, topic_arn: str | None = None
) -> ParsedDelivery:
    """A delivery whose event type the parser does not handle: kept as a dead letter."""
    return ParsedDelivery(
        kind=DeliveryKind.UNSUPPORTED,
        idempotency_key=idempotency_key,
        topic_arn=topic_arn,
        unsupported_type=event_type,
    )


class Parser(Protocol):
    def __call__(
        self, body: bytes, *, headers: Mapping[str, str], options: ParseOptions
    ) -> ParsedDelivery: ...


class Screen(Protocol):
    """Accepts exactly what the source's parser accepts (same MalformedPayload reasons)."""

    def __call__(self, body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> Envelope: ...


def parse_leniently(
    body: bytes, essential: EssentialFields, read: Callable[[JsonObject], ParsedDelivery]
) -> ParsedDelivery:
    """Decode a JSON object body and `read` it, emptying malformed optional fields (with a
    warning each) and refusing malformed essential ones (see `integrations.common.lenient`)."""
    delivery, warnings = read_leniently(read, load_json_object(body), essential)
    if not warnings:
        return delivery
    return replace(delivery, warnings=(*delivery.warnings, *warnings))
