"""Replay a dead letter once the parser (or the sender) is fixed."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.audit import audit
from bot.errors import InvalidTransition, MalformedPayload, NotFound
from bot.ingest.parsing import ParseFn
from bot.store.db import Store
from bot.store.models import DeadLetter, RawEvent


def replay_dead_letter(
    store: Store, letter_id: int, *, parse: ParseFn, now: datetime, actor: str = "cli"
) -> str:
    """Re-parse; on success store it as a new pending raw event (deduplicated as usual)."""
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
            letter.replayed_at = now
            letter.replay_result = f"still unparseable: {exc.reason}"
            audit(
                session,
                at=now,
                actor=actor,
                subject=f"dead_letter:{letter_id}",
                action="dead_letter.replay_failed",
                details={"reason": exc.reason},
            )
            return letter.replay_result
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
        letter.replayed_at = now
        letter.replay_result = (
            f"queued as raw event {new_id}" if new_id else "duplicate of an event already stored"
        )
        audit(
            session,
            at=now,
            actor=actor,
            subject=f"dead_letter:{letter_id}",
            action="dead_letter.replayed",
            details={"result": letter.replay_result},
        )
        return letter.replay_result
