"""Replay a dead letter once the parser (or the sender) is fixed.

A letter the webhook route refused (400) is stored as a new raw event. A letter the workers
set aside (an unsupported event type, a payload that failed every attempt) still has its raw
event, which holds the idempotency key: that event is queued again rather than a duplicate made.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.errors import InvalidTransition, MalformedPayload, NotFound
from bot.ingest.parsing import ParseFn
from bot.store.db import Store
from bot.store.models import DeadLetter, RawEvent
from integrations.base import DeliveryKind


def replay_dead_letter(
    store: Store, letter_id: int, *, parse: ParseFn, now: datetime, actor: str = "cli"
) -> str:
    """Re-parse; on success queue it again (its own raw event, or a new one deduplicated as usual)."""
    with store.transaction() as session:
        letter = session.get(DeadLetter, letter_id)
        if letter is None:
            raise NotFound(f"no dead letter {letter_id}")
        if letter.replayed_at is not None and letter.replay_result.startswith("queued"):
            raise InvalidTransition(f"dead letter {letter_id} was already replayed")
        headers = dict(letter.headers or {})
        try:
            parsed = parse(letter.source, letter.body, headers)
        except MalformedPayload as exc:
            return _record(session, letter, now, actor, failed=f"still unparseable: {exc.reason}")
        if parsed.kind is DeliveryKind.UNSUPPORTED:
            return _record(
                session, letter, now, actor, failed=f"still unsupported: event type {parsed.unsupported_type}"
            )
        original = session.get(RawEvent, letter.raw_event_id) if letter.raw_event_id is not None else None
        if original is not None and original.status == "failed":
            original.status = "pending"
            original.attempts = 0
            original.error = ""
            original.claimed_by = None
            original.claimed_until = None
            original.alert_count = len(parsed.alerts)
            return _record(session, letter, now, actor, queued=f"queued as raw event {original.id}")
        key = parsed.idempotency_key or hashlib.sha256(letter.body).hexdigest()
        insert = sqlite_insert if store.is_sqlite else pg_insert
        new_id = session.execute(
            insert(RawEvent)
            .values(
                source=letter.source,
                idempotency_key=key[:255],
                received_at=now,
                content_type=letter.content_type,
                headers=headers,
                body=letter.body,
                request_id=letter.request_id,
                status="pending",
                attempts=0,
                error="",
                duplicates=0,
                alert_count=len(parsed.alerts),
            )
            .on_conflict_do_nothing(index_elements=["source", "idempotency_key"])
            .returning(RawEvent.id)
        ).scalar()
        result = f"queued as raw event {new_id}" if new_id else "duplicate of an event already stored"
        return _record(session, letter, now, actor, queued=result)


def _record(
    session: Session,
    letter: DeadLetter,
    now: datetime,
    actor: str,
    *,
    queued: str | None = None,
    failed: str | None = None,
) -> str:
    """Note the replay's result on the letter and in the audit log; return it."""
    letter.replayed_at = now
    letter.replay_result = queued or failed or ""
    audit(
        session,
        at=now,
        actor=actor,
        subject=f"dead_letter:{letter.id}",
        action="dead_letter.replayed" if queued else "dead_letter.replay_failed",
        details={"result": queued} if queued else {"reason": failed},
    )
    return letter.replay_result
