"""Replayed Slack requests: a state-changing request is handled once, on any replica.

Slack's signature proves who sent a request and Bolt refuses one older than five minutes, but
within those minutes a captured request verifies again and again (three replays of one signed
`/conductor silence` made three silences). So each signed request that changes state — a command
such as ack, resolve, run, approve, silence, or a button press — is recorded by its signature and
timestamp in the database, and a second arrival is ignored (answered 200 with nothing done, and
audited). Rows expire after twice the freshness window; the store, not process memory, holds them,
so the check holds across replicas and restarts.

Socket Mode requests are not signed (the websocket is authenticated): there is nothing to replay.
The Bolt middleware that asks `SeenRequests` is in `integrations.slack.bolt_app` (`ignore_replays`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.logs import get_logger
from bot.slack.commands import CommandUsageError, parse_command
from bot.store.db import Store
from bot.store.models import SeenSlackRequest

log = get_logger(__name__)

# Bolt refuses requests older than 5 minutes; remembering them twice as long covers clock skew.
REMEMBER_FOR = timedelta(minutes=10)


def request_key(signature: str, timestamp: str) -> str:
    return hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()


class SeenRequests:
    """The signed requests already handled, in the store."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def first_time(self, signature: str, timestamp: str) -> bool:
        """Record the request; False if it was recorded before (a replay)."""
        now = self._clock()
        values = {"key": request_key(signature, timestamp), "seen_at": now, "expires_at": now + REMEMBER_FOR}
        with self._store.transaction() as session:
            session.execute(delete(SeenSlackRequest).where(SeenSlackRequest.expires_at < now))
            insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
            added = session.scalar(
                insert(SeenSlackRequest)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(SeenSlackRequest.key)
            )
            return added is not None


def changes_state(body: Mapping[str, Any]) -> bool:
    """A `/conductor` command that changes something, or a button press (approve / deny)."""
    if "command" in body:
        try:
            return parse_command(str(body.get("text", ""))).changes_state
        except CommandUsageError:
            return False  # answered with its usage; nothing happens
    return body.get("type") == "block_actions"
