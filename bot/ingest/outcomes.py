"""What processing one stored webhook did (`ProcessedEvent`), and the metrics and logs it feeds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot.alerts.normalized import NormalizedAlert
from bot.incidents.apply import ApplyReport
from bot.logs import get_logger
from bot.metrics import Metrics
from integrations.base import DeliveryKind, ParsedDelivery

log = get_logger(__name__)


@dataclass(frozen=True)
class ProcessedEvent:
    raw_event_id: int
    kind: DeliveryKind
    report: ApplyReport
    alerts: tuple[tuple[str, str, int], ...] = ()  # (source, status, how many), for metrics
    source: str = ""  # the webhook source
    unsupported_type: str | None = None  # an event type the parser does not handle
    emptied_fields: tuple[str, ...] = ()  # malformed optional fields left empty (with [*])


def processed_event(
    raw_event_id: int, source: str, delivery: ParsedDelivery, report: ApplyReport
) -> ProcessedEvent:
    return ProcessedEvent(
        raw_event_id,
        delivery.kind,
        report,
        alerts=status_counts(delivery.alerts),
        source=source,
        unsupported_type=delivery.unsupported_type,
        emptied_fields=tuple(warning.field for warning in delivery.warnings),
    )


def status_counts(alerts: Sequence[NormalizedAlert]) -> tuple[tuple[str, str, int], ...]:
    counts = Counter((a.source, a.status.value) for a in alerts)
    return tuple((source, status, n) for (source, status), n in counts.items())


def record_outcome(metrics: Metrics, outcome: ProcessedEvent) -> None:
    """After the commit: count alerts, incidents, unsupported types and emptied fields; log the last two."""
    _count_incidents(metrics, outcome)
    for source, status, n in outcome.alerts:
        metrics.alerts_received.labels(source=source, status=status).inc(n)
    if outcome.unsupported_type is not None:
        metrics.alerts_unsupported.labels(source=outcome.source, type=outcome.unsupported_type).inc()
        log.warning(
            "unsupported event type",
            source=outcome.source,
            type=outcome.unsupported_type,
            raw_event_id=outcome.raw_event_id,
            kept_as="dead letter" if outcome.kind is DeliveryKind.UNSUPPORTED else "generic alert",
        )
    for field in outcome.emptied_fields:
        metrics.fields_emptied.labels(source=outcome.source, field=field).inc()
    if outcome.emptied_fields:
        log.warning(
            "malformed optional fields were left empty",
            source=outcome.source,
            raw_event_id=outcome.raw_event_id,
            fields=list(outcome.emptied_fields),
        )


def _count_incidents(metrics: Metrics, outcome: ProcessedEvent) -> None:
    r = outcome.report
    for event, ids in (("opened", r.opened), ("reopened", r.reopened), ("resolved", r.resolved)):
        if ids:
            metrics.incidents.labels(event=event).inc(len(ids))
