"""In-process workers: threads that claim persisted work and run it.

Each task is a callable `(worker_name) -> int` returning how much it did; a worker sleeps
only when a whole round did nothing. Stopping lets the current item finish; anything not
started stays pending in the store for the next start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.logs import get_logger

log = get_logger(__name__)

Task = Callable[[str], int]


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

    def start(self) -> None:
        for index in range(self._threads_wanted):
            name = f"{self._identity}/w{index}"
            thread = threading.Thread(target=self._loop, args=(name,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """New work arrived: skip the rest of the idle wait."""
        self._wake.set()

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
            did = 0
            for task in self._tasks:
                if self._stop.is_set():
                    return
                try:
                    did += task.run(name)
                except Exception as exc:
                    log.error("worker task failed", task=task.name, error=str(exc), exc_info=True)
            if did == 0:
                self._wake.wait(self._poll)
                self._wake.clear()
