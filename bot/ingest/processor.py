"""Turn stored raw events into alerts and incidents, exactly once.

Stage: normalize (then dedupe, mute and group, on `bot.incidents.apply.IncidentBook`).
Takes: claimed raw events (stored webhook bodies).
Gives: `ProcessedEvent`s — alerts stored, incidents changed, incident.event jobs queued; a body
  that cannot be normalized is dead-lettered with its reason.

Each event is processed in a transaction that first flips it from `pending` to `done`
(conditionally, so two workers can never both process it) and then applies its alerts;
a crash anywhere rolls the whole thing back and the event is claimed again later.

A claimed batch is processed several events per transaction (up to `BATCH_ALERTS` alerts, so
the store's single writer lock is never held for long): one flip, one load of the alerts and
incidents involved, one commit. If anything in such a transaction fails, it is rolled back and
its events are processed again one per transaction, where a bad event is retried later or
dead-lettered on its own. A large delivery is applied a slice per transaction instead
(`bot.ingest.slices`). Bodies are normalized before the write transaction starts. The webhook
route only screened the body (see `integrations.base.Screen`); this is where its alerts are
normalized.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.alerts.normalized import NormalizedAlert
from bot.audit import audit
from bot.claims import claimable
from bot.config.root import Settings
from bot.errors import MalformedPayload
from bot.incidents.apply import ApplyReport, IncidentBook, MutingContext
from bot.ingest.event_failures import (
    dead_letter,
    give_up,
    move_to_dead_letters,
    release_unanswered,
    retry_later,
)
from bot.ingest.outcomes import ProcessedEvent, processed_event, record_outcome, status_counts
from bot.ingest.parsing import NotNormalizable, ParseFn, normalize
from bot.ingest.slices import SLICE_ALERTS, add_report, apply_in_slices
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.store.db import Store, store_unreachable
from bot.store.models import RawEvent
from integrations.base import DeliveryKind, ParsedDelivery

log = get_logger(__name__)

ConfirmFn = Callable[[str], None]  # GET an SNS SubscribeURL

# One processing transaction carries at most this many alerts (and events): long enough to share
# the commit and the loading, short enough that webhook commits never wait long for the lock.
BATCH_ALERTS = 256
BATCH_EVENTS = 32
# One claim takes at most this many alerts' worth of events (at least one event), so a worker's
# round stays short and the worker pool can yield to webhooks between rounds.
CLAIM_ALERTS = 2 * BATCH_ALERTS


@dataclass(frozen=True)
class _Stored:
    source: str
    body: bytes
    headers: dict[str, str]
    alerts_done: int


@dataclass(frozen=True)
class _Loaded:
    raw_event_id: int
    source: str
    parsed: ParsedDelivery


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
        between_writes: Callable[[], None] = lambda: None,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self._store = store
        self._settings = settings
        self._parse = parse
        self._muting = muting
        self._confirm = confirm_subscription
        self._metrics = metrics
        self._clock = clock
        self._on_processed = on_processed
        self._between_writes = between_writes  # between two slices of a large delivery
        self._stopping = stopping  # shutting down: claimed events not started yet are given back

    def _book(
        self, session: Session, deliveries: Sequence[Sequence[NormalizedAlert]], now: datetime
    ) -> IncidentBook:
        """Load what these deliveries touch (stages dedupe, mute and group run on it)."""
        return IncidentBook(
            session,
            settings=self._settings.incidents,
            muting=self._muting(session, now),
            deliveries=deliveries,
            now=now,
        )

    def claim(self, worker: str, limit: int) -> list[int]:
        return [raw_event_id for raw_event_id, _alerts in self._claim(worker, limit)]

    def _claim(self, worker: str, limit: int) -> list[tuple[int, int]]:
        """(id, alert count) of up to `limit` pending events, now claimed by `worker`."""
        now = self._clock()
        lease = timedelta(seconds=self._settings.workers.claim_timeout_seconds)
        max_attempts = self._settings.workers.max_attempts
        with self._store.transaction() as session:
            query = (
                select(RawEvent.id, RawEvent.alert_count, RawEvent.attempts)
                .where(RawEvent.status == "pending")
                .where(claimable(RawEvent, now, worker))
                .order_by(RawEvent.id)
                .limit(limit)
            )
            if not self._store.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            claimed: list[tuple[int, int]] = []
            alerts = 0
            for raw_event_id, count, attempts in session.execute(query).all():
                if attempts >= max_attempts:  # every attempt so far ended without an answer
                    give_up(session, int(raw_event_id), now)
                    continue
                if claimed and alerts + int(count or 0) > CLAIM_ALERTS:
                    break
                claimed.append((int(raw_event_id), int(count or 0)))
                alerts += int(count or 0)
            if claimed:
                session.execute(
                    update(RawEvent)
                    .where(RawEvent.id.in_([i for i, _ in claimed]))
                    .values(claimed_by=worker, claimed_until=now + lease, attempts=RawEvent.attempts + 1)
                )
        return claimed

    def run_once(self, worker: str, limit: int | None = None) -> int:
        """Claim and process one batch (at most `limit` events, else `claim_batch`); returns how
        many events were handled."""
        claimed = self._claim(worker, limit or self._settings.workers.claim_batch)
        batch: list[int] = []
        alerts = 0
        for raw_event_id, count in claimed:
            if batch and (alerts + count > BATCH_ALERTS or len(batch) >= BATCH_EVENTS):
                self.process_many(batch, worker)
                batch, alerts = [], 0
                if self._stopping():
                    return len(claimed)  # the rest stays claimed by us; shutdown releases it
            batch.append(raw_event_id)
            alerts += count
        if batch:
            self.process_many(batch, worker)
        return len(claimed)

    def process_many(self, raw_event_ids: Sequence[int], worker: str) -> list[ProcessedEvent]:
        """Process claimed events in one transaction; on any failure, one transaction per event."""
        if len(raw_event_ids) == 1:
            single = self.process(raw_event_ids[0], worker)
            return [single] if single is not None else []
        loaded, others = self._load(raw_event_ids, worker)
        done: list[ProcessedEvent] = []
        if loaded:
            try:
                with self._store.transaction() as session:
                    done = self._process_batch_in(session, loaded, worker)
            except Exception as exc:  # noqa: BLE001 - fall back to one event per transaction
                log.warning(
                    "raw event batch failed; processing its events one by one",
                    size=len(loaded),
                    error=str(exc),
                )
                others = sorted([*others, *(e.raw_event_id for e in loaded)])
                done = []
        for outcome in done:
            self._finish(outcome)
        for raw_event_id in others:
            single = self.process(raw_event_id, worker)
            if single is not None:
                done.append(single)
        return done

    def _load(self, raw_event_ids: Sequence[int], worker: str) -> tuple[list[_Loaded], list[int]]:
        """Parsed alert deliveries still claimed by `worker`; the rest (other kinds, unparseable)
        go the one-by-one way, which knows how to confirm, dead-letter and retry."""
        parsed: dict[int, ParsedDelivery] = {}
        mine: set[int] = set()
        sources: dict[int, str] = {}
        with self._store.sessions() as session:
            rows = session.execute(
                select(RawEvent.id, RawEvent.source, RawEvent.status, RawEvent.claimed_by)
                .add_columns(RawEvent.body, RawEvent.headers)
                .where(RawEvent.id.in_(list(raw_event_ids)))
            ).all()
        for row in rows:
            if row.status != "pending" or row.claimed_by != worker:
                continue
            raw_event_id = int(row.id)
            mine.add(raw_event_id)
            sources[raw_event_id] = str(row.source)
            try:
                parsed[raw_event_id] = normalize(self._parse, row.source, row.body, dict(row.headers or {}))
            except MalformedPayload:
                continue  # dead-lettered by the one-by-one path
        loaded: list[_Loaded] = []
        others: list[int] = []
        for raw_event_id in raw_event_ids:
            if raw_event_id not in mine:
                continue  # another worker took it over or it is finished
            delivery = parsed.get(raw_event_id)
            if delivery is not None and delivery.kind is DeliveryKind.ALERTS:
                loaded.append(_Loaded(raw_event_id, sources[raw_event_id], delivery))
            else:
                others.append(raw_event_id)
        return loaded, others

    def _process_batch_in(
        self, session: Session, loaded: Sequence[_Loaded], worker: str
    ) -> list[ProcessedEvent]:
        now = self._clock()
        ids = [e.raw_event_id for e in loaded]
        query = select(RawEvent.id).where(
            RawEvent.id.in_(ids), RawEvent.status == "pending", RawEvent.claimed_by == worker
        )
        if not self._store.is_sqlite:
            query = query.with_for_update()
        flipped = {int(i) for i in session.scalars(query)}
        if not flipped:
            return []
        session.execute(
            update(RawEvent)
            .where(RawEvent.id.in_(sorted(flipped)))
            .values(status="done", processed_at=now, claimed_until=None)
        )
        mine = [e for e in loaded if e.raw_event_id in flipped]
        book = self._book(session, [e.parsed.alerts for e in mine], now)
        return [
            processed_event(
                e.raw_event_id,
                e.source,
                e.parsed,
                book.apply(e.parsed.alerts, now=now, raw_event_id=e.raw_event_id),
            )
            for e in mine
        ]

    def process(self, raw_event_id: int, worker: str) -> ProcessedEvent | None:
        """Process one claimed event in its own transaction (a large group: a slice per
        transaction, see `bot.ingest.slices`). The body is normalized before any transaction
        starts, so parsing never holds the store's write lock."""
        try:
            stored = self._read_claimed(raw_event_id, worker)
            if stored is None:
                return None  # another worker took it over or finished it
            delivery = normalize(self._parse, stored.source, stored.body, stored.headers)
            if delivery.kind is DeliveryKind.ALERTS and len(delivery.alerts) > SLICE_ALERTS:
                return self._process_in_slices(
                    raw_event_id, worker, stored.source, delivery, start=stored.alerts_done
                )
            with self._store.transaction() as session:
                outcome = self._process_in(session, raw_event_id, worker, stored.source, delivery)
        except MalformedPayload as exc:
            reason = exc.reason if isinstance(exc, NotNormalizable) else f"unparseable: {exc.reason}"
            dead_letter(self._store, raw_event_id, reason, now=self._clock())
            return None
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the worker
            if store_unreachable(exc):
                release_unanswered(self._store, raw_event_id, exc)
                return None
            log.warning("raw event failed; will retry", raw_event_id=raw_event_id, error=str(exc))
            retry_later(
                self._store,
                raw_event_id,
                str(exc),
                now=self._clock(),
                max_attempts=self._settings.workers.max_attempts,
            )
            return None
        if outcome is not None:
            self._finish(outcome)
        return outcome

    def _read_claimed(self, raw_event_id: int, worker: str) -> _Stored | None:
        with self._store.sessions() as session:
            row = session.execute(
                select(RawEvent.source, RawEvent.body, RawEvent.headers, RawEvent.alerts_done).where(
                    RawEvent.id == raw_event_id, RawEvent.status == "pending", RawEvent.claimed_by == worker
                )
            ).first()
        if row is None:
            return None
        return _Stored(str(row.source), bytes(row.body), dict(row.headers or {}), int(row.alerts_done or 0))

    def _process_in_slices(
        self, raw_event_id: int, worker: str, source: str, delivery: ParsedDelivery, *, start: int
    ) -> ProcessedEvent | None:
        """Apply a large delivery a slice per transaction; metrics and the listener hear of each
        slice as it commits (the returned outcome sums them and is not finished again). The
        delivery's emptied fields are counted once, with its first slice."""

        def apply(session: Session, alerts: Sequence[NormalizedAlert], now: datetime) -> ApplyReport:
            return self._book(session, [alerts], now).apply(alerts, now=now, raw_event_id=raw_event_id)

        lease = timedelta(seconds=self._settings.workers.claim_timeout_seconds)
        total = ApplyReport()
        sliced = apply_in_slices(
            self._store,
            raw_event_id,
            worker,
            delivery.alerts,
            start=start,
            lease=lease,
            clock=self._clock,
            apply=apply,
            between=self._between_writes,
        )
        emptied = tuple(warning.field for warning in delivery.warnings) if start == 0 else ()
        for part, report in sliced:
            self._finish(
                ProcessedEvent(
                    raw_event_id,
                    delivery.kind,
                    report,
                    alerts=status_counts(part),
                    source=source,
                    emptied_fields=emptied,
                )
            )
            emptied = ()
            add_report(total, report)
        return ProcessedEvent(
            raw_event_id, delivery.kind, total, alerts=status_counts(delivery.alerts), source=source
        )

    def _finish(self, outcome: ProcessedEvent) -> None:
        """After the commit: metrics and the listener."""
        record_outcome(self._metrics, outcome)
        if self._on_processed is not None:
            self._on_processed(outcome)

    def _process_in(
        self, session: Session, raw_event_id: int, worker: str, source: str, delivery: ParsedDelivery
    ) -> ProcessedEvent | None:
        now = self._clock()
        flipped = session.execute(
            update(RawEvent)
            .where(RawEvent.id == raw_event_id, RawEvent.status == "pending", RawEvent.claimed_by == worker)
            .values(status="done", processed_at=now, claimed_until=None)
        )
        if getattr(flipped, "rowcount", 0) != 1:
            return None  # another worker took it over or finished it
        report = ApplyReport()
        if delivery.kind is DeliveryKind.SUBSCRIPTION_CONFIRMATION and delivery.subscribe_url:
            self._confirm(delivery.subscribe_url)
            audit(
                session,
                at=now,
                actor=source,
                subject=f"sns:{delivery.topic_arn}",
                action="sns.subscription_confirmed",
                details={"raw_event_id": raw_event_id},
            )
        elif delivery.kind is DeliveryKind.UNSUPPORTED:
            # Acknowledged but not understood: kept for replay once a parser handles the type.
            reason = f"unsupported event type {delivery.unsupported_type}"
            event = session.get(RawEvent, raw_event_id)
            if event is not None:
                move_to_dead_letters(session, event, reason, now)
        elif delivery.kind is DeliveryKind.UNSUBSCRIBE_CONFIRMATION:
            audit(
                session,
                at=now,
                actor=source,
                subject=f"sns:{delivery.topic_arn}",
                action="sns.unsubscribe_confirmation",
                details={"raw_event_id": raw_event_id},
            )
        else:
            book = self._book(session, [delivery.alerts], now)
            report = book.apply(delivery.alerts, now=now, raw_event_id=raw_event_id)
        return processed_event(raw_event_id, source, delivery, report)
