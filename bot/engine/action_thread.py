"""A runbook's action on a thread of its own, and what happens when it outlives its timeout.

Python cannot stop a thread, so a timed-out action keeps running: it may still change the target.
The engine therefore never lets go of the target at the timeout. The run is marked `unknown`
(which holds the target's lock) and a watcher waits for the thread to really end, renewing the
run's claim meanwhile so that no replica takes it for the leftover of a crashed process; then the
engine settles the run with the late outcome and only that releases the target.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from bot.runbook_kit.spec import RunResult


@dataclass(frozen=True, slots=True)
class ActionEnded:
    """How an action thread ended: its result, or the exception it raised."""

    result: RunResult | None
    error: Exception | None


class ActionThread:
    """Runs `act` once on a daemon thread; `wait(timeout)` says whether it ended in time."""

    def __init__(self, act: Callable[[], RunResult], *, name: str) -> None:
        self._act = act
        self._done = threading.Event()
        self._result: RunResult | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            self._result = self._act()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting engine as the outcome
            self._error = exc
        finally:
            self._done.set()

    def start(self) -> ActionThread:
        self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def ended(self) -> ActionEnded:
        """The outcome of a finished action. A BaseException that is not an Exception
        (KeyboardInterrupt, SystemExit) is re-raised: the process is going down."""
        if not self._done.is_set():
            raise RuntimeError("the action is still running")
        if self._error is not None and not isinstance(self._error, Exception):
            raise self._error
        return ActionEnded(self._result, self._error if isinstance(self._error, Exception) else None)


class AbandonedActions:
    """Watchers of timed-out actions: each renews its run's claim every `heartbeat` seconds while
    the action runs, then calls `settle` once it has ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[int, threading.Thread] = {}  # by run id

    def watch(
        self,
        action: ActionThread,
        *,
        run_id: int,
        heartbeat: float,
        renew: Callable[[], None],
        settle: Callable[[ActionEnded], None],
    ) -> None:
        def run() -> None:
            try:
                while not action.wait(heartbeat):
                    renew()
                settle(action.ended())
            finally:
                with self._lock:
                    self._watchers.pop(run_id, None)

        watcher = threading.Thread(target=run, name=f"runbook-{run_id}-watch", daemon=True)
        with self._lock:
            self._watchers[run_id] = watcher
        watcher.start()

    def running(self) -> frozenset[int]:
        """Runs whose timed-out action is still running in this process."""
        with self._lock:
            return frozenset(self._watchers)

    def join(self, timeout: float) -> bool:
        """Wait for every watched action to end and be settled; False if some still run."""
        with self._lock:
            watchers = list(self._watchers.values())
        for watcher in watchers:
            watcher.join(timeout)
        with self._lock:
            return not self._watchers
