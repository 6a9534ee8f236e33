"""Group commit: many webhook bodies, one durable transaction, every sender told only after it.

Requests hand their body to `GroupCommitter.submit` and await the outcome. One writer thread
takes whatever is queued (up to `batch_max`, waiting at most `batch_wait` for stragglers),
inserts it in a single transaction and commits; only then are the waiting requests answered.
Durability is unchanged (each body is committed before its 202); the fsync is shared.

The batch is one multi-row insert (built once per dialect, run as an executemany that returns
the new rows' ids and keys) on a plain connection: no ORM unit of work, no statement per row.
Waiting requests are answered with one hand-over per event loop and batch, not one per request.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.expression import Executable

from bot.errors import ConductorError
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


class StoreUnavailable(ConductorError):
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
        """The first item, plus what is queued after waiting `batch_wait` for stragglers, up to
        `batch_max`. The wait is one sleep rather than a wake-up per arriving item: this thread
        and the event loop share one interpreter lock, and every wake-up costs the loop a switch."""
        batch = [first]
        if self._batch_wait > 0 and self._queue.qsize() < self._batch_max - 1:
            time.sleep(self._batch_wait)
        while len(batch) < self._batch_max:
            try:
                item = self._queue.get_nowait()
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
            failure = StoreUnavailable(str(exc))
            for loop, futures in _by_loop(batch).items():
                loop.call_soon_threadsafe(_fail_all, futures, failure)
            return
        answers: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[CommitOutcome], CommitOutcome]]]
        answers = {}
        for (_delivery, future, loop), outcome in zip(batch, outcomes, strict=True):
            answers.setdefault(loop, []).append((future, outcome))
        for loop, results in answers.items():
            loop.call_soon_threadsafe(_answer_all, results)

    def _write(self, deliveries: list[RawDelivery]) -> list[CommitOutcome]:
        outcomes = write_deliveries(self._store, deliveries)
        self.batches += 1
        self.committed += sum(1 for o in outcomes if not o.duplicate)
        self.duplicates += sum(1 for o in outcomes if o.duplicate)
        return outcomes


_COLUMNS = (
    "source",
    "idempotency_key",
    "received_at",
    "content_type",
    "headers",
    "body",
    "request_id",
    "status",
    "attempts",
    "error",
    "duplicates",
    "alert_count",
)
_statements: dict[str, tuple[Executable, Executable]] = {}


def _prepared(dialect: str) -> tuple[Executable, Executable]:
    """(insert-or-nothing returning the new id, count-a-duplicate), built once per dialect."""
    found = _statements.get(dialect)
    if found is None:
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        add = (
            insert(RawEvent)
            .values({name: bindparam(name) for name in _COLUMNS})
            .on_conflict_do_nothing(index_elements=["source", "idempotency_key"])
            .returning(RawEvent.id, RawEvent.source, RawEvent.idempotency_key)
        )
        seen = (
            update(RawEvent)
            .where(
                RawEvent.source == bindparam("dup_source"),
                RawEvent.idempotency_key == bindparam("dup_key"),
            )
            .values(duplicates=RawEvent.duplicates + 1)
        )
        found = _statements[dialect] = (add, seen)
    return found


def write_deliveries(store: Store, deliveries: list[RawDelivery]) -> list[CommitOutcome]:
    """Insert raw events in one transaction; a known (source, key) counts as a duplicate.

    Within a batch the first body with a key is the new one and any later one a duplicate, as if
    they had been written one after the other."""
    if not deliveries:
        return []
    add, seen = _prepared(store.engine.dialect.name)
    rows = [
        {
            "source": d.source,
            "idempotency_key": d.idempotency_key,
            "received_at": d.received_at,
            "content_type": d.content_type,
            "headers": d.headers,
            "body": d.body,
            "request_id": d.request_id,
            "status": "pending",
            "attempts": 0,
            "error": "",
            "duplicates": 0,
            "alert_count": d.alert_count,
        }
        for d in deliveries
    ]
    with store.engine.begin() as connection:
        new_ids = {(row.source, row.idempotency_key): int(row.id) for row in connection.execute(add, rows)}
        outcomes: list[CommitOutcome] = []
        repeats: list[dict[str, str]] = []
        for d in deliveries:
            new_id = new_ids.pop((d.source, d.idempotency_key), None)
            if new_id is None:
                repeats.append({"dup_source": d.source, "dup_key": d.idempotency_key})
                outcomes.append(CommitOutcome(duplicate=True, raw_event_id=None))
            else:
                outcomes.append(CommitOutcome(duplicate=False, raw_event_id=new_id))
        if repeats:
            connection.execute(seen, repeats)
    return outcomes


def _by_loop(batch: list[_Item]) -> dict[asyncio.AbstractEventLoop, list[asyncio.Future[CommitOutcome]]]:
    grouped: dict[asyncio.AbstractEventLoop, list[asyncio.Future[CommitOutcome]]] = {}
    for _delivery, future, loop in batch:
        grouped.setdefault(loop, []).append(future)
    return grouped


def _answer_all(results: list[tuple[asyncio.Future[CommitOutcome], CommitOutcome]]) -> None:
    for future, outcome in results:
        if not future.done():
            future.set_result(outcome)


def _fail_all(futures: list[asyncio.Future[CommitOutcome]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)
