"""What happens to a stored raw event that could not be processed: retried with back-off, or
moved to the dead letters (kept for replay, audited) once it is unreadable or out of attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.logs import get_logger
from bot.store.db import Store
from bot.store.models import DeadLetter, RawEvent

log = get_logger(__name__)


def retry_later(store: Store, raw_event_id: int, error: str, *, now: datetime, max_attempts: int) -> None:
    """Release the event for another attempt after a back-off, or dead-letter it when its
    attempts are spent."""
    with store.transaction() as session:
        event = session.get(RawEvent, raw_event_id)
        if event is None or event.status != "pending":
            return
        if event.attempts >= max_attempts:
            move_to_dead_letters(session, event, f"failed {event.attempts} times: {error}", now)
            return
        event.error = error[:4000]
        event.claimed_by = None
        event.claimed_until = now + timedelta(seconds=min(300, 2**event.attempts))


def release_unanswered(store: Store, raw_event_id: int, error: Exception) -> None:
    """The store failed under the event (not the event's fault): give the claim back at once and
    do not count the attempt. Best effort: while the store is unreachable this fails too, and the
    worker takes its own claim again when the store is back (see the processor's claim)."""
    log.warning("store unreachable; raw event released", raw_event_id=raw_event_id, error=str(error))
    try:
        with store.transaction() as session:
            session.execute(
                update(RawEvent)
                .where(RawEvent.id == raw_event_id, RawEvent.status == "pending")
                .values(claimed_by=None, claimed_until=None, attempts=RawEvent.attempts - 1)
            )
    except Exception as again:  # noqa: BLE001 - still unreachable: the claim is taken again later
        log.warning(
            "raw event claim kept until the store is back", raw_event_id=raw_event_id, error=str(again)
        )


def dead_letter(store: Store, raw_event_id: int, reason: str, *, now: datetime) -> None:
    with store.transaction() as session:
        event = session.get(RawEvent, raw_event_id)
        if event is not None and event.status == "pending":
            move_to_dead_letters(session, event, reason, now)


def give_up(session: Session, raw_event_id: int, now: datetime) -> None:
    """Dead-letter an event whose every attempt ended without an answer (its worker died or
    hung each time), instead of claiming it once more."""
    event = session.get(RawEvent, raw_event_id)
    assert event is not None  # selected in this transaction
    reason = f"gave up after {event.attempts} attempts that never finished"
    log.error("raw event dead-lettered", raw_event_id=raw_event_id, reason=reason, last_error=event.error)
    move_to_dead_letters(session, event, f"{reason}: {event.error}" if event.error else reason, now)


def move_to_dead_letters(session: Session, event: RawEvent, reason: str, now: datetime) -> None:
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
