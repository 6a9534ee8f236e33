"""The contract between the ingest stage and each source's parser.

A parser is a pure function: raw bytes and headers in, a `ParsedDelivery` out, or
`MalformedPayload` with a reason a human can act on. It never touches the network or the store.

A screen is the webhook route's half of a parser: it checks everything the parser would refuse
and returns only what the route needs before its 202 (an `Envelope`: kind, alert count,
idempotency key), without building normalized alerts; the workers parse the stored body in full
later. A source without a screen of its own is screened by parsing it (`envelope_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.alerts.normalized import NormalizedAlert, Severity


class DeliveryKind(StrEnum):
    ALERTS = "alerts"  # an ordinary delivery carrying zero or more alerts
    SUBSCRIPTION_CONFIRMATION = "subscription_confirmation"  # SNS: confirm by GET SubscribeURL
    UNSUBSCRIBE_CONFIRMATION = "unsubscribe_confirmation"  # SNS: record, no alert
    TEST = "test"  # a vendor's "test notification"; still produces its alerts


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """Per-source knobs from config that change what a payload means."""

    # CloudWatch INSUFFICIENT_DATA: "firing" (default) or "resolved"; severity when it fires.
    insufficient_data_status: str = "firing"
    insufficient_data_severity: Severity = Severity.WARNING


@dataclass(frozen=True, slots=True)
class ParsedDelivery:
    kind: DeliveryKind
    alerts: list[NormalizedAlert] = field(default_factory=list)
    # Stable across re-deliveries of the same message (SNS MessageId, PagerDuty webhook id,
    # an Alertmanager group's content hash, ...). None: the ingest stage hashes the body.
    idempotency_key: str | None = None
    subscribe_url: str | None = None  # SubscriptionConfirmation only
    topic_arn: str | None = None  # SNS only


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the webhook route must know about a delivery before it answers."""

    kind: DeliveryKind
    alert_count: int
    idempotency_key: str | None = None  # as ParsedDelivery.idempotency_key
    subscribe_url: str | None = None
    topic_arn: str | None = None


def envelope_of(parsed: ParsedDelivery) -> Envelope:
    return Envelope(
        kind=parsed.kind,
        alert_count=len(parsed.alerts),
        idempotency_key=parsed.idempotency_key,
        subscribe_url=parsed.subscribe_url,
        topic_arn=parsed.topic_arn,
    )


class Parser(Protocol):
    def __call__(
        self, body: bytes, *, headers: Mapping[str, str], options: ParseOptions
    ) -> ParsedDelivery: ...


class Screen(Protocol):
    """Accepts exactly what the source's parser accepts (same MalformedPayload reasons)."""

    def __call__(self, body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> Envelope: ...
