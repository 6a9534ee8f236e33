"""Turn stored raw events into alerts and incidents, exactly once.

Each event is processed in one transaction that first flips it from `pending` to `done`
(conditionally, so two workers can never both process it) and then applies its alerts;
a crash anywhere rolls the whole thing back and the event is claimed again later.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.alerts.normalized import NormalizedAlert
from bot.audit import audit
from bot.config.root import Settings
from bot.errors import MalformedPayload
from bot.incidents.apply import ApplyReport, MutingContext, apply_alerts
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.store.db import Store
from bot.store.models import DeadLetter, RawEvent
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions

log = get_logger(__name__)

ParseFn = Callable[[str, bytes, dict[str, str]], ParsedDelivery]
ConfirmFn = Callable[[str], None]  # GET an SNS SubscribeURL


@dataclass(frozen=True)
class ProcessedEvent:
    raw_event_id: int
    kind: DeliveryKind
    report: ApplyReport


def parse_options(settings: Settings) -> ParseOptions:
    cw = settings.ingest.cloudwatch
    return ParseOptions(
        insufficient_data_status=cw.insufficient_data_status,
        insufficient_data_severity=cw.insufficient_data_severity,
    )


def worker_name() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


class RawEventProcessor:
    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        parse: ParseFn,
        muting: Callable[[Session, datetime], MutingContext],
        confirm_subscription: ConfirmFn,
        metrics: Metrics,
        clock: Callable[[], datetime],
        on_processed: Callable[[ProcessedEvent], None] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._parse = parse
        self._muting = muting
        self._confirm = confirm_subscription
        self._metrics = metrics
        self._clock = clock
        self._on_processed = on_processed

    def claim(self, worker: str, limit: int) -> list[int]:
        now = self._clock()
        lease = timedelta(seconds=self._settings.workers.claim_timeout_seconds)
        with self._store.transaction() as session:
            query = (
                select(RawEvent.id)
                .where(RawEvent.status == "pending")
                .where(or_(RawEvent.claimed_until.is_(None), RawEvent.claimed_until < now))
                .order_by(RawEvent.id)
                .limit(limit)
            )
            if not self._store.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query).all())
            if ids:
                session.execute(
                    update(RawEvent)
                    .where(RawEvent.id.in_(ids))
                    .values(claimed_by=worker, claimed_until=now + lease, attempts=RawEvent.attempts + 1)
                )
        return ids

    def run_once(self, worker: str) -> int:
        """Claim and process one batch; returns how many events were handled."""
        ids = self.claim(worker, self._settings.workers.claim_batch)
        for raw_event_id in ids:
            self.process(raw_event_id, worker)
        return len(ids)

    def process(self, raw_event_id: int, worker: str) -> ProcessedEvent | None:
        try:
            with self._store.transaction() as session:
                outcome = self._process_in(session, raw_event_id, worker)
        except MalformedPayload as exc:
            self._dead_letter(raw_event_id, f"unparseable: {exc.reason}")
            return None
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the worker
            log.warning("raw event failed; will retry", raw_event_id=raw_event_id, error=str(exc))
            self._retry_later(raw_event_id, str(exc))
            return None
        if outcome is not None:
            self._count(outcome)
            if self._on_processed is not None:
                self._on_processed(outcome)
        return outcome

    def _process_in(self, session: Session, raw_event_id: int, worker: str) -> ProcessedEvent | None:
        now = self._clock()
        flipped = session.execute(
            update(RawEvent)
            .where(RawEvent.id == raw_event_id, RawEvent.status == "pending", RawEvent.claimed_by == worker)
            .values(status="done", processed_at=now, claimed_until=None)
        )
        if getattr(flipped, "rowcount", 0) != 1:
            return None  # another worker took it over or finished it
        event = session.get(RawEvent, raw_event_id)
        assert event is not None
        delivery = self._parse(event.source, event.body, dict(event.headers or {}))
        report = ApplyReport()
        if delivery.kind is DeliveryKind.SUBSCRIPTION_CONFIRMATION and delivery.subscribe_url:
            self._confirm(delivery.subscribe_url)
            audit(
                session,
                at=now,
                actor=event.source,
                subject=f"sns:{delivery.topic_arn}",
                action="sns.subscription_confirmed",
                details={"raw_event_id": raw_event_id},
            )
        elif delivery.kind is DeliveryKind.UNSUBSCRIBE_CONFIRMATION:
            audit(
                session,
                at=now,
                actor=event.source,
                subject=f"sns:{delivery.topic_arn}",
                action="sns.unsubscribe_confirmation",
                details={"raw_event_id": raw_event_id},
            )
        else:
            alerts: list[NormalizedAlert] = delivery.alerts
            report = apply_alerts(
                session,
                alerts,
                settings=self._settings.incidents,
                muting=self._muting(session, now),
                now=now,
                raw_event_id=raw_event_id,
            )
            for alert in alerts:
                self._metrics.alerts_received.labels(source=alert.source, status=alert.status.value).inc()
        return ProcessedEvent(raw_event_id, delivery.kind, report)

    def _count(self, outcome: ProcessedEvent) -> None:
        r = outcome.report
        for event, ids in (("opened", r.opened), ("reopened", r.reopened), ("resolved", r.resolved)):
            if ids:
                self._metrics.incidents.labels(event=event).inc(len(ids))

    def _retry_later(self, raw_event_id: int, error: str) -> None:
        now = self._clock()
        with self._store.transaction() as session:
            event = session.get(RawEvent, raw_event_id)
            if event is None or event.status != "pending":
                return
            if event.attempts >= self._settings.workers.max_attempts:
                self._move_to_dead_letters(session, event, f"failed {event.attempts} times: {error}", now)
                return
            backoff = timedelta(seconds=min(300, 2**event.attempts))
            event.error = error[:4000]
            event.claimed_by = None
            event.claimed_until = now + backoff

    def _dead_letter(self, raw_event_id: int, reason: str) -> None:
        now = self._clock()
        with self._store.transaction() as session:
            event = session.get(RawEvent, raw_event_id)
            if event is not None and event.status == "pending":
                self._move_to_dead_letters(session, event, reason, now)

    @staticmethod
    def _move_to_dead_letters(session: Session, event: RawEvent, reason: str, now: datetime) -> None:
        event.status = "failed"
        event.error = reason[:4000]
        event.claimed_by = None
        event.claimed_until = None
        session.add(
            DeadLetter(
                source=event.source,
                received_at=event.received_at,
                content_type=event.content_type,
                headers=event.headers,
                body=event.body,
                reason=reason,
                request_id=event.request_id,
                raw_event_id=event.id,
            )
        )
        audit(
            session,
            at=now,
            actor="system",
            subject=f"raw_event:{event.id}",
            action="raw_event.dead_lettered",
            details={"reason": reason},
        )
