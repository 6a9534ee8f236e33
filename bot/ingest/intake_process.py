"""Webhook intake in a process of its own (`[ingest] intake = "process"`, the default).

Why: checking a webhook body and committing it is CPU work and small I/O waits under Python's
interpreter lock. In the HTTP process they compete with the event loop that answers every other
request, and the committer thread waits up to a switch interval for the lock after each SQLite
call; in a process of their own they run on another core. The route hands the body over this
socket pair and answers when the intake process says the body is committed (or refused), so a
202 still means "committed" and every refusal keeps its status.

If the intake process dies, requests waiting on it get 503 (nothing they sent was acknowledged)
and a new one is started; requests arriving meanwhile get 503 too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import socket
from collections.abc import Mapping
from multiprocessing.process import BaseProcess

from bot.config.root import Settings
from bot.errors import ConductorError, UnknownSource
from bot.ingest import intake_child
from bot.ingest.intake import SOURCES
from bot.ingest.wire import (
    HEADER_SIZE,
    Accepted,
    IntakeReply,
    IntakeRequest,
    IntakeUnavailable,
    Ready,
    Refused,
    frame,
    frame_length,
    raise_refusal,
    unframe,
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
    """One running intake process and the event loop's streams to it."""

    def __init__(self, process: BaseProcess, sock: socket.socket) -> None:
        self.process = process
        self.sock = sock
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.pending: dict[int, asyncio.Future[Accepted | Refused]] = {}
        self.reading: asyncio.Task[None] | None = None


class ProcessIntake:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._seq = itertools.count(1)
        self._connection: _Connection | None = None
        self._opening: asyncio.Lock | None = None
        self._stopping = False
        self._restarts = 0
        self._watching: asyncio.Task[_Connection] | None = None

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
        """Close our side of the socket (the process commits what it has read, then exits) and
        wait for it. In-flight requests have had their answers: uvicorn stops them first."""
        self._stopping = True
        connection, self._connection = self._connection, None
        if connection is None:
            return
        # Shut the socket down now: closing the stream transport would only take effect on the
        # event loop's next turn, and this thread is about to wait for the process.
        with contextlib.suppress(OSError):  # OSError: the process is already gone
            connection.sock.shutdown(socket.SHUT_WR)
        if connection.writer is not None:
            connection.writer.close()
        else:
            connection.sock.close()
        connection.process.join(STOP_TIMEOUT_SECONDS)
        if connection.process.is_alive():
            log.error("intake process did not stop; killing it", pid=connection.process.pid)
            connection.process.kill()
            connection.process.join(5)

    async def submit(self, source: str, body: bytes, headers: Mapping[str, str]) -> Accepted:
        """Raise the errors of `wire.REFUSALS`; else the body is committed."""
        if source not in SOURCES:
            raise UnknownSource(f"no webhook source {source!r} (known: {', '.join(SOURCES)})")
        connection = await self._open()
        assert connection.writer is not None
        seq = next(self._seq)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Accepted | Refused] = loop.create_future()
        connection.pending[seq] = future
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            connection.writer.write(frame(IntakeRequest(seq, source, body, lowered, request_id_var.get())))
            await connection.writer.drain()
        except (ConnectionError, OSError) as exc:
            connection.pending.pop(seq, None)
            raise IntakeUnavailable("the intake process is not reachable; retry") from exc
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
        if connection.writer is not None:
            return connection
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if connection.writer is None:
                connection.reader, connection.writer = await asyncio.open_unix_connection(
                    sock=connection.sock, limit=1 << 22
                )
                connection.reading = asyncio.get_running_loop().create_task(self._read_replies(connection))
        return connection

    async def _read_replies(self, connection: _Connection) -> None:
        assert connection.reader is not None
        try:
            while True:
                header = await connection.reader.readexactly(HEADER_SIZE)
                reply = unframe(await connection.reader.readexactly(frame_length(header)))
                if isinstance(reply, IntakeReply):
                    future = connection.pending.pop(reply.seq, None)
                    if future is not None and not future.done():
                        future.set_result(reply.answer)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        lost = Refused("intake_unavailable", "the intake process stopped before answering; retry")
        for future in connection.pending.values():
            if not future.done():
                future.set_result(lost)
        connection.pending.clear()
        if self._stopping or self._connection is not connection:
            return
        log.error("intake process exited; starting a new one", exitcode=connection.process.exitcode)
        self._connection = None
        await self._replace()

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
                replacement.sock.close()
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


def _spawn(settings: Settings) -> _Connection:
    parent, child = socket.socketpair()
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=intake_child.main, args=(settings, child), name="conductor-intake", daemon=True
    )
    process.start()
    child.close()
    try:
        parent.settimeout(START_TIMEOUT_SECONDS)
        header = _recv_exactly(parent, HEADER_SIZE)
        ready = unframe(_recv_exactly(parent, frame_length(header)))
        if not isinstance(ready, Ready):
            raise IntakeStartFailed(f"unexpected first message {type(ready).__name__}")
    except (OSError, IntakeStartFailed) as exc:
        parent.close()
        process.kill()
        process.join(5)
        raise IntakeStartFailed(f"the intake process did not start: {exc}") from exc
    parent.setblocking(False)
    return _Connection(process, parent)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise IntakeStartFailed("the intake process exited during start")
        data += chunk
    return bytes(data)
