"""In-process workers: threads that claim persisted work and run it.

Each task is a callable `(worker_name) -> int` returning how much it did; a worker sleeps
only when a whole round did nothing. Stopping lets the current item finish; anything not
started stays pending in the store for the next start.

Answering webhooks comes first. The HTTP server and these threads share one interpreter lock,
and a thread busy with background work keeps it for up to `sys.getswitchinterval()` at a time,
so during an alert storm the workers would otherwise slow every acknowledgement down. While
webhook requests are in flight (`foreground()`), the workers take turns (one at a time) and
after each task round rest for as long as the round took: background work then gets at most
half the time, never none, and nothing it holds is left waiting (a round finishes its
transaction before the rest). Work that is not done yet is durable and is picked up as usual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from bot.logs import get_logger

log = get_logger(__name__)

Task = Callable[[str], int]

# A rest never lasts longer than this, so background work keeps moving in a long storm.
MAX_REST_SECONDS = 1.0
# Requests that ended this recently still count as a storm in progress (clients send the next
# request a moment after the previous answer).
FOREGROUND_LINGER_SECONDS = 0.05


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
        self._foreground_ended = 0.0
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
        """Around a request someone is waiting for: background work yields while any is in flight."""
        with self._foreground_lock:
            self._foreground += 1
        try:
            yield
        finally:
            with self._foreground_lock:
                self._foreground -= 1
                self._foreground_ended = time.monotonic()

    def busy(self) -> bool:
        """Whether requests are in flight (or just were)."""
        return self._foreground > 0 or time.monotonic() - self._foreground_ended < FOREGROUND_LINGER_SECONDS

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
        while not self._stop.is_set():
            if self.busy():
                with self._turn:
                    started = time.monotonic()
                    did = self._round(name)
                    if did:
                        # Rest while still holding the turn, so the pool as a whole yields.
                        self._stop.wait(min(time.monotonic() - started, MAX_REST_SECONDS))
            else:
                did = self._round(name)
            if did == 0:
                self._wake.wait(self._poll)
                self._wake.clear()

    def _round(self, name: str) -> int:
        did = 0
        for task in self._tasks:
            if self._stop.is_set():
                return did
            try:
                did += task.run(name)
            except Exception as exc:
                log.error("worker task failed", task=task.name, error=str(exc), exc_info=True)
        return did
