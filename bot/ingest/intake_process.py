"""Webhook intake in a process of its own (`[ingest] intake = "process"`, the default).

Why: checking a webhook body and committing it is CPU work and small I/O waits under Python's
interpreter lock. In the HTTP process they compete with the event loop that answers every other
request, and the committer thread waits up to a switch interval for the lock after each SQLite
call; in a process of their own they run on another core. The route hands the body over a
`multiprocessing` Pipe (which frames and pickles the messages) and answers when the intake
process says the body is committed (or refused), so a 202 still means "committed" and every
refusal keeps its status.

If the intake process dies, requests waiting on it get 503 (nothing they sent was acknowledged)
and a new one is started; requests arriving meanwhile get 503 too.

The Pipe's connection is blocking, so the event loop never touches it: a sender thread takes the
requests the loop queues and writes them, and a reader thread reads the answers and hands them to
the loop (`call_soon_threadsafe`). One connection carries every request, so the intake process
still sees all of them at once and commits them in groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import queue
import socket
import threading
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from bot.config.root import Settings
from bot.errors import ConductorError, UnknownSource
from bot.ingest import intake_child
from bot.ingest.sources import SOURCES
from bot.ingest.wire import (
    Accepted,
    IntakeReply,
    IntakeRequest,
    IntakeUnavailable,
    Ready,
    Refused,
    raise_refusal,
)
from bot.logs import get_logger, request_id_var

log = get_logger(__name__)

START_TIMEOUT_SECONDS = 60.0
# A replacement that fails to start is tried again after this long, doubling up to the maximum.
RESTART_DELAY_SECONDS = 1.0
RESTART_DELAY_MAX_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
# A request not answered by then gets 503 (its sender retries; the idempotency key makes a
# retry of a body that was committed after all a duplicate).
ANSWER_TIMEOUT_SECONDS = 60.0


class IntakeStartFailed(ConductorError):
    """The intake process did not come up."""


class _Connection:
    """One running intake process, our end of its Pipe, and the threads that use that end."""

    def __init__(self, process: BaseProcess, channel: Connection) -> None:
        self.process = process
        self.channel = channel
        self.pending: dict[int, asyncio.Future[Accepted | Refused]] = {}
        self.outbox: queue.SimpleQueue[IntakeRequest | None] = queue.SimpleQueue()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sender: threading.Thread | None = None
        self.reader: threading.Thread | None = None

    def on_loop(self, callback: Callable[..., object], *args: object) -> None:
        """Run `callback(*args)` on the event loop, from one of the threads."""
        assert self.loop is not None
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            self.loop.call_soon_threadsafe(callback, *args)


class ProcessIntake:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._seq = itertools.count(1)
        self._connection: _Connection | None = None
        self._opening: asyncio.Lock | None = None
        self._stopping = False
        self._restarts = 0
        self._watching: asyncio.Task[_Connection] | asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        connection = self._connection
        return connection.process.pid if connection is not None else None

    @property
    def restarts(self) -> int:
        return self._restarts

    def ready(self) -> str | None:
        connection = self._connection
        if connection is None or not connection.process.is_alive():
            return "the intake process is not running"
        return None

    def start(self) -> None:
        """Start the intake process and wait until it has opened the store."""
        self._stopping = False
        self._connection = _spawn(self._settings)
        log.info("intake process started", pid=self.pid)
        try:  # watch it from now on, not from the first webhook (lifespan runs on the loop)
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the first submit connects
        self._watching = loop.create_task(self._open())

    def stop(self) -> None:
        """Close our side of the Pipe for writing (the process commits what it has read, then
        exits) and wait for it. In-flight requests have had their answers: uvicorn stops them
        first."""
        self._stopping = True
        connection, self._connection = self._connection, None
        if connection is None:
            return
        connection.outbox.put(None)  # the sender writes what is queued, then stops
        if connection.sender is not None:
            connection.sender.join(STOP_TIMEOUT_SECONDS)
        with contextlib.suppress(OSError):  # OSError: the process is already gone
            _shut_writes(connection.channel)
        connection.process.join(STOP_TIMEOUT_SECONDS)
        if connection.process.is_alive():
            log.error("intake process did not stop; killing it", pid=connection.process.pid)
            connection.process.kill()
            connection.process.join(5)
        if connection.reader is not None:
            connection.reader.join(5)  # it reads to the end the process's exit makes, then closes
        if connection.reader is None or not connection.reader.is_alive():
            connection.channel.close()

    async def submit(self, source: str, body: bytes, headers: Mapping[str, str]) -> Accepted:
        """Raise the errors of `wire.REFUSALS`; else the body is committed."""
        if source not in SOURCES:
            raise UnknownSource(f"no webhook source {source!r} (known: {', '.join(SOURCES)})")
        connection = await self._open()
        seq = next(self._seq)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Accepted | Refused] = loop.create_future()
        connection.pending[seq] = future
        lowered = {k.lower(): v for k, v in headers.items()}
        connection.outbox.put(IntakeRequest(seq, source, body, lowered, request_id_var.get()))
        expiry = loop.call_later(ANSWER_TIMEOUT_SECONDS, _expire, connection, seq)
        try:
            answer = await future
        finally:
            expiry.cancel()
        if isinstance(answer, Refused):
            raise_refusal(answer)
        assert isinstance(answer, Accepted)
        return answer

    async def _open(self) -> _Connection:
        connection = self._connection
        if connection is None:
            raise IntakeUnavailable("the intake process is not running; retry")
        if connection.loop is None:  # first use on the loop: start the threads that use the Pipe
            connection.loop = asyncio.get_running_loop()
            connection.sender = _thread(_send_requests, connection, "intake-send")
            connection.reader = _thread(self._read_replies, connection, "intake-read")
        return connection

    def _read_replies(self, connection: _Connection) -> None:
        """The reader thread: answers to the loop until the Pipe ends."""
        try:
            while True:
                message = connection.channel.recv()
                if isinstance(message, list):
                    connection.on_loop(_answer, connection, message)
        except (EOFError, OSError):
            pass
        connection.outbox.put(None)  # the Pipe is done with: stop the sender, then close our end
        if connection.sender is not None:
            connection.sender.join()
        connection.channel.close()
        connection.on_loop(self._lost, connection)

    def _lost(self, connection: _Connection) -> None:
        lost = Refused("intake_unavailable", "the intake process stopped before answering; retry")
        for future in connection.pending.values():
            if not future.done():
                future.set_result(lost)
        connection.pending.clear()
        if self._stopping or self._connection is not connection:
            return
        log.error("intake process exited; starting a new one", exitcode=connection.process.exitcode)
        self._connection = None
        self._watching = asyncio.get_running_loop().create_task(self._replace())

    async def _replace(self) -> None:
        delay = RESTART_DELAY_SECONDS
        while not self._stopping:
            try:
                replacement = await asyncio.to_thread(_spawn, self._settings)
            except Exception as exc:  # noqa: BLE001 - keep trying; webhooks get 503 meanwhile
                log.error("intake process could not be started; trying again", error=str(exc), delay=delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, RESTART_DELAY_MAX_SECONDS)
                continue
            if self._stopping:
                replacement.channel.close()
                replacement.process.join(STOP_TIMEOUT_SECONDS)
                return
            self._restarts += 1
            self._connection = replacement
            log.info("intake process started", pid=replacement.process.pid)
            await self._open()  # reading its answers also notices if it dies
            return


def _expire(connection: _Connection, seq: int) -> None:
    future = connection.pending.pop(seq, None)
    if future is not None and not future.done():
        future.set_result(Refused("intake_unavailable", "no answer from the intake process in time; retry"))


def _answer(connection: _Connection, replies: list[object]) -> None:
    for reply in replies:
        if isinstance(reply, IntakeReply):
            future = connection.pending.pop(reply.seq, None)
            if future is not None and not future.done():
                future.set_result(reply.answer)


def _send_requests(connection: _Connection) -> None:
    """The sender thread: writes what the loop queues, one message each, until None."""
    while (request := connection.outbox.get()) is not None:
        try:
            connection.channel.send(request)
        except OSError:
            unreachable = Refused("intake_unavailable", "the intake process is not reachable; retry")
            connection.on_loop(_answer, connection, [IntakeReply(request.seq, unreachable)])


def _thread(target: Callable[[_Connection], None], connection: _Connection, name: str) -> threading.Thread:
    thread = threading.Thread(target=target, args=(connection,), name=name, daemon=True)
    thread.start()
    return thread


def _shut_writes(channel: Connection) -> None:
    """End what we send (the process reads to the end) while still reading its answers."""
    with socket.socket(fileno=os.dup(channel.fileno())) as sock:
        sock.shutdown(socket.SHUT_WR)


def _spawn(settings: Settings) -> _Connection:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=True)
    process = context.Process(
        target=intake_child.main, args=(settings, child), name="conductor-intake", daemon=True
    )
    process.start()
    child.close()
    try:
        if not parent.poll(START_TIMEOUT_SECONDS):
            raise IntakeStartFailed(f"no word from it in {START_TIMEOUT_SECONDS:g} s")
        ready = parent.recv()
        if not isinstance(ready, Ready):
            raise IntakeStartFailed(f"unexpected first message {type(ready).__name__}")
    except EOFError as exc:
        _abandon(parent, process)
        raise IntakeStartFailed("the intake process exited during start") from exc
    except (OSError, IntakeStartFailed) as exc:
        _abandon(parent, process)
        raise IntakeStartFailed(f"the intake process did not start: {exc}") from exc
    return _Connection(process, parent)


def _abandon(channel: Connection, process: BaseProcess) -> None:
    channel.close()
    process.kill()
    process.join(5)
