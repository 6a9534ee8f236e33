"""In-process workers: threads that claim persisted work and run it.

Each task is a callable `(worker_name, limit) -> int` that claims at most `limit` items (None:
its usual batch) and returns how many it handled; a worker sleeps only when a whole round did
nothing. Stopping lets the current item finish; anything not
started stays pending in the store for the next start.

Answering webhooks comes first. The HTTP server and these threads share one interpreter lock,
and a thread busy with background work keeps it for up to `sys.getswitchinterval()` at a time,
so during an alert storm the workers would otherwise slow every acknowledgement down. During a
storm (at least `STORM_IN_FLIGHT` webhook requests in flight, or that many a moment ago; see
`foreground()`), a worker does not start a round until the storm pauses or it has waited
`MAX_DEFER_SECONDS`; then one worker at a time does one short round (at most
`STORM_ROUND_ITEMS` items per task, so the interpreter lock is not held for long) and the wait
starts over. So a burst is acknowledged at full speed and processed right after it, and a long
storm still gets some background work done every second, never none. Ordinary traffic (a few
requests at a time) does not defer anything. Work not done yet is durable and is picked up as
usual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from bot.logs import get_logger

log = get_logger(__name__)

Task = Callable[[str, int | None], int]

# This many webhook requests in flight at once is a storm.
STORM_IN_FLIGHT = 8
# A storm that was on this recently still counts (clients send the next request a moment after
# the previous answer).
FOREGROUND_LINGER_SECONDS = 0.05
# During a storm a worker waits at most this long before doing a round anyway.
MAX_DEFER_SECONDS = 1.0
# How often a deferring worker looks whether the storm has paused.
DEFER_POLL_SECONDS = 0.01
# What a round during a storm may take per task (raw events of up to 50 alerts, jobs).
STORM_ROUND_ITEMS = 4
# A worker whose rounds keep failing (the store is down) waits up to this long between them.
FAILING_BACKOFF_MAX_SECONDS = 5.0
# Between two transactions of one long job, wait at most this long for requests to commit.
YIELD_MAX_SECONDS = 0.5


class BackgroundService(Protocol):
    """A long-lived part started after the workers and stopped before them (scheduler, Slack)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class NamedTask:
    name: str
    run: Task


class WorkerPool:
    def __init__(
        self, tasks: Sequence[NamedTask], *, threads: int, poll_interval: float, identity: str
    ) -> None:
        self._tasks = list(tasks)
        self._threads_wanted = threads
        self._poll = poll_interval
        self._identity = identity
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._foreground = 0
        self._storm_seen = 0.0
        self._foreground_lock = threading.Lock()
        self._turn = threading.Lock()  # while requests are in flight, one worker at a time

    def start(self) -> None:
        for index in range(self._threads_wanted):
            name = f"{self._identity}/w{index}"
            thread = threading.Thread(target=self._loop, args=(name,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """New work arrived: skip the rest of the idle wait."""
        self._wake.set()

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Around a request someone is waiting for: background work defers while a storm of them
        is in flight."""
        with self._foreground_lock:
            self._foreground += 1
            if self._foreground >= STORM_IN_FLIGHT:
                self._storm_seen = time.monotonic()
        try:
            yield
        finally:
            with self._foreground_lock:
                if self._foreground >= STORM_IN_FLIGHT:
                    self._storm_seen = time.monotonic()
                self._foreground -= 1

    def let_requests_commit(self, max_wait: float = YIELD_MAX_SECONDS) -> None:
        """Between two write transactions of one long piece of background work: wait while
        webhook requests are in flight (at most `max_wait`). On SQLite a request waiting for the
        write lock polls for it every 100 ms or so; a worker that starts its next transaction at
        once takes the lock first every time, and the request waits for the whole job."""
        deadline = time.monotonic() + max_wait
        while self._foreground > 0 and time.monotonic() < deadline and not self._stop.is_set():
            self._stop.wait(DEFER_POLL_SECONDS)

    def busy(self) -> bool:
        """Whether a storm of requests is in flight (or just was)."""
        return (
            self._foreground >= STORM_IN_FLIGHT
            or time.monotonic() - self._storm_seen < FOREGROUND_LINGER_SECONDS
        )

    def stop(self, timeout: float) -> bool:
        """Ask workers to stop after their current item; True if all stopped in time."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        stopped = not any(t.is_alive() for t in self._threads)
        self._threads.clear()
        return stopped

    def _loop(self, name: str) -> None:
        failed_rounds = 0
        while not self._stop.is_set():
            if self.busy():
                with self._turn:  # during a storm, one worker at a time, one round per deferral
                    self._defer()
                    did, failed = self._round(name, STORM_ROUND_ITEMS if self.busy() else None)
            else:
                did, failed = self._round(name)
            failed_rounds = failed_rounds + 1 if failed else 0
            if failed_rounds:
                # Usually the store is unreachable: back off (up to FAILING_BACKOFF_MAX_SECONDS)
                # instead of logging the same failure every poll interval.
                self._stop.wait(min(FAILING_BACKOFF_MAX_SECONDS, self._poll * 2**failed_rounds))
            elif did == 0:
                self._wake.wait(self._poll)
                self._wake.clear()

    def _defer(self) -> None:
        """Wait until the storm pauses, at most MAX_DEFER_SECONDS."""
        deadline = time.monotonic() + MAX_DEFER_SECONDS
        while self.busy() and time.monotonic() < deadline and not self._stop.is_set():
            self._stop.wait(DEFER_POLL_SECONDS)

    def _round(self, name: str, limit: int | None = None) -> tuple[int, bool]:
        """(items handled, whether a task failed)."""
        did = 0
        failed = False
        for task in self._tasks:
            if self._stop.is_set():
                return did, failed
            try:
                did += task.run(name, limit)
            except Exception as exc:
                failed = True
                log.error("worker task failed", task=task.name, error=str(exc), exc_info=True)
        return did, failed
