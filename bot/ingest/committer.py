"""Group commit: many webhook bodies, one durable transaction, every sender told only after it.

Requests hand their body to `GroupCommitter.submit` and await the outcome. One writer thread
takes whatever is queued (up to `batch_max`, waiting at most `batch_wait` for stragglers),
inserts it in a single transaction and commits; only then are the waiting requests answered.
Durability is unchanged (each body is committed before its 202); the fsync is shared.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.logs import get_logger
from bot.store.db import Store
from bot.store.models import RawEvent

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RawDelivery:
    source: str
    idempotency_key: str
    body: bytes
    headers: dict[str, str]
    content_type: str
    received_at: datetime
    request_id: str
    alert_count: int


@dataclass(frozen=True, slots=True)
class CommitOutcome:
    duplicate: bool
    raw_event_id: int | None  # None for a duplicate


class StoreUnavailable(Exception):
    """The batch could not be committed; the sender gets 503 and should retry."""


_Item = tuple[RawDelivery, asyncio.Future[CommitOutcome], asyncio.AbstractEventLoop]
_STOP = object()


class GroupCommitter:
    def __init__(self, store: Store, *, batch_max: int = 256, batch_wait: float = 0.002) -> None:
        self._store = store
        self._batch_max = batch_max
        self._batch_wait = batch_wait
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.committed = 0
        self.duplicates = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="group-committer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Commit what is queued, then stop."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
            self._thread = None

    async def submit(self, delivery: RawDelivery) -> CommitOutcome:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CommitOutcome] = loop.create_future()
        self._queue.put((delivery, future, loop))
        return await future

    def write_now(self, delivery: RawDelivery) -> CommitOutcome:
        """Synchronous single write (CLI replay, tests)."""
        return self._write([delivery])[0]

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch, stopping = self._collect(first)
            self._flush(batch)

    def _collect(self, first: _Item) -> tuple[list[_Item], bool]:
        """Take what is queued now, plus what arrives within `batch_wait`, up to `batch_max`."""
        batch = [first]
        deadline = time.monotonic() + self._batch_wait
        while len(batch) < self._batch_max:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _flush(self, batch: list[_Item]) -> None:
        try:
            outcomes = self._write([item[0] for item in batch])
        except Exception as exc:  # noqa: BLE001 - every waiting request must hear about it
            log.error("group commit failed", error=str(exc), size=len(batch))
            for _delivery, future, loop in batch:
                loop.call_soon_threadsafe(_set_exception, future, StoreUnavailable(str(exc)))
            return
        for (_delivery, future, loop), outcome in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(_set_result, future, outcome)

    def _write(self, deliveries: list[RawDelivery]) -> list[CommitOutcome]:
        outcomes = write_deliveries(self._store, deliveries)
        self.batches += 1
        self.committed += sum(1 for o in outcomes if not o.duplicate)
        self.duplicates += sum(1 for o in outcomes if o.duplicate)
        return outcomes


def write_deliveries(store: Store, deliveries: list[RawDelivery]) -> list[CommitOutcome]:
    """Insert raw events in one transaction; a known (source, key) counts as a duplicate."""
    dialect = store.engine.dialect.name
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    outcomes: list[CommitOutcome] = []
    with store.transaction() as session:
        for d in deliveries:
            statement = (
                insert(RawEvent)
                .values(
                    source=d.source,
                    idempotency_key=d.idempotency_key,
                    received_at=d.received_at,
                    content_type=d.content_type,
                    headers=d.headers,
                    body=d.body,
                    request_id=d.request_id,
                    status="pending",
                    attempts=0,
                    error="",
                    duplicates=0,
                    alert_count=d.alert_count,
                )
                .on_conflict_do_nothing(index_elements=["source", "idempotency_key"])
                .returning(RawEvent.id)
            )
            new_id = session.execute(statement).scalar()
            if new_id is None:
                session.execute(
                    update(RawEvent)
                    .where(RawEvent.source == d.source, RawEvent.idempotency_key == d.idempotency_key)
                    .values(duplicates=RawEvent.duplicates + 1)
                )
                outcomes.append(CommitOutcome(duplicate=True, raw_event_id=None))
            else:
                outcomes.append(CommitOutcome(duplicate=False, raw_event_id=int(new_id)))
    return outcomes


def _set_result(future: asyncio.Future[CommitOutcome], outcome: CommitOutcome) -> None:
    if not future.done():
        future.set_result(outcome)


def _set_exception(future: asyncio.Future[CommitOutcome], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
