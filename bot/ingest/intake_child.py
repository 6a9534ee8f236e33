"""The intake process: checks webhook bodies and commits them, beside the HTTP event loop.

Two stages, so checking and committing overlap. The main thread reads requests from the connection,
takes whatever has arrived (waiting up to `batch_wait_ms` for stragglers, at most `batch_max`)
and checks each one exactly as the inline intake does (authentication, the source's screen, the
idempotency key; a malformed body is kept as a dead letter), answering refusals at once. The
writer thread commits what the checks accepted, everything queued in one transaction (group
commit), and only then answers those requests. The writer's SQLite calls release the interpreter
lock; a short switch interval hands it back to the writer promptly while the main thread checks.
The process exits when the HTTP process closes the connection (or dies), after answering what it
has read. The connection is a `multiprocessing` Pipe: it frames and pickles the messages.

SIGINT is ignored: Ctrl-C reaches the whole process group, and the HTTP process shuts down
first, closing the connection once in-flight requests have their answers.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection

from bot.clock import utc_now
from bot.config.root import Settings
from bot.config.secrets import configured_secret_values
from bot.ingest.committer import write_deliveries
from bot.ingest.intake import Prepared, WebhookIntake, build_intake
from bot.ingest.wire import Accepted, IntakeReply, IntakeRequest, Ready, Refused, refusal_of
from bot.logs import configure_logging, get_logger, register_secrets, request_id_var
from bot.store.db import Store

log = get_logger(__name__)


class RequestReader:
    """Requests from a blocking connection, a batch at a time."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._closed = False

    def next_batch(self, limit: int, wait: float) -> list[IntakeRequest] | None:
        """At least one request (blocking for it), plus what arrives within `wait`; None at EOF.

        A message that has begun to arrive is read whole (its sender writes it in one go)."""
        requests: list[IntakeRequest] = []
        while not requests:
            if self._closed or not self._receive_into(requests):
                return None
        deadline = time.monotonic() + wait
        while len(requests) < limit and not self._closed:
            if not self._connection.poll(max(0.0, deadline - time.monotonic())):
                break
            self._receive_into(requests)
        return requests

    def _receive_into(self, requests: list[IntakeRequest]) -> bool:
        try:
            message = self._connection.recv()
        except EOFError:
            self._closed = True
            return False
        if isinstance(message, IntakeRequest):
            requests.append(message)
        return True


Send = Callable[[Sequence[IntakeReply]], None]


def check_batch(
    intake: WebhookIntake, batch: Sequence[IntakeRequest]
) -> tuple[list[IntakeReply], list[tuple[int, Prepared]]]:
    """(answers for refused requests, prepared deliveries to commit)."""
    refused: list[IntakeReply] = []
    prepared: list[tuple[int, Prepared]] = []
    for request in batch:
        request_id_var.set(request.request_id)
        try:
            prepared.append((request.seq, intake.prepare(request.source, request.body, request.headers)))
        except Exception as exc:  # noqa: BLE001 - every request gets an answer
            refused.append(IntakeReply(request.seq, _refusal(exc, "check")))
    return refused, prepared


def commit_batch(store: Store, prepared: Sequence[tuple[int, Prepared]]) -> list[IntakeReply]:
    """Write in one transaction; every request's answer (accepted, or the store failed)."""
    try:
        outcomes = write_deliveries(store, [p.delivery for _seq, p in prepared])
    except Exception as exc:  # noqa: BLE001 - the whole batch is unanswered by the store
        log.error("intake commit failed", error=str(exc), size=len(prepared))
        failed = Refused("store_unavailable", f"the store is unavailable: {exc}")
        return [IntakeReply(seq, failed) for seq, _p in prepared]
    return [
        IntakeReply(seq, Accepted(outcome, p.delivery.alert_count, p.envelope.kind.value))
        for (seq, p), outcome in zip(prepared, outcomes, strict=True)
    ]


class Writer:
    """The commit stage: a thread taking everything queued into one transaction (None: stop)."""

    def __init__(self, store: Store, send: Send, batch_max: int) -> None:
        self._store = store
        self._send = send
        self._batch_max = batch_max
        self._queue: queue.Queue[list[tuple[int, Prepared]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, prepared: list[tuple[int, Prepared]]) -> None:
        self._queue.put(prepared)

    def stop(self) -> None:
        """Commit and answer what is queued, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            pending = list(first)
            while len(pending) < self._batch_max:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                pending.extend(more)
            try:
                self._send(commit_batch(self._store, pending))
            except OSError:
                return  # the HTTP process is gone; nothing unanswered was acknowledged


def _refusal(exc: Exception, stage: str) -> Refused:
    refused = refusal_of(exc)
    if refused is not None:
        return refused
    # Not a named refusal: a bug or the store failing while keeping a dead letter. The sender
    # is told to retry; nothing was acknowledged.
    log.error("intake failed", stage=stage, error=str(exc), exc_info=True)
    return Refused("intake_unavailable", f"intake failed: {exc.__class__.__name__}")


# How long the writer may wait for the interpreter lock after each SQLite call while the main
# thread checks bodies (the default 5 ms would stretch every commit by several of them).
SWITCH_INTERVAL_SECONDS = 0.0005


def main(settings: Settings, connection: Connection) -> None:
    """Entry point of the intake process (multiprocessing, spawn)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    configure_logging(level=settings.logging.level, json=settings.logging.format == "json")
    register_secrets(configured_secret_values(settings, os.environ))  # a spawned process starts afresh
    try:
        _serve(settings, connection)
    except Exception:
        # Logged (redacted) here rather than printed raw by multiprocessing.
        log.critical("intake process failed", exc_info=True)
        sys.exit(1)


def _serve(settings: Settings, connection: Connection) -> None:
    store = Store.connect(
        settings.database_url(),
        echo=settings.database.echo,
        options=settings.database.pool_options(pool_size=2),
    )
    intake = build_intake(settings, store, utc_now)
    connection.send(Ready(os.getpid()))
    sending = threading.Lock()

    def send(replies: Sequence[IntakeReply]) -> None:
        with sending:  # the checking and the writing thread both answer
            connection.send(list(replies))

    writer = Writer(store, send, settings.ingest.batch_max)
    writer.start()
    reader = RequestReader(connection)
    limit = settings.ingest.batch_max
    wait = settings.ingest.batch_wait_ms / 1000.0
    try:
        while (batch := reader.next_batch(limit, wait)) is not None:
            refused, prepared = check_batch(intake, batch)
            if refused:
                send(refused)
            if prepared:
                writer.put(prepared)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the HTTP process is gone; what it did not hear about was never acknowledged
    finally:
        writer.stop()
        store.dispose()
        connection.close()
