"""Worker pool: background work defers to a storm of webhook requests, but is never starved."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from bot.workers import MAX_DEFER_SECONDS, STORM_IN_FLIGHT, STORM_ROUND_ITEMS, NamedTask, WorkerPool


class Recorder:
    def __init__(self) -> None:
        self.rounds: list[float] = []
        self.limits: list[int | None] = []
        self.lock = threading.Lock()

    def __call__(self, worker: str, limit: int | None) -> int:
        with self.lock:
            self.rounds.append(time.monotonic())
            self.limits.append(limit)
        time.sleep(0.01)
        return 1  # always "did something", so the workers never sleep between rounds


@pytest.fixture
def recorded() -> Iterator[tuple[WorkerPool, Recorder]]:
    recorder = Recorder()
    pool = WorkerPool([NamedTask("record", recorder)], threads=2, poll_interval=0.01, identity="test")
    yield pool, recorder
    pool.stop(timeout=5)


def rounds_between(recorder: Recorder, start: float, end: float) -> int:
    with recorder.lock:
        return sum(1 for t in recorder.rounds if start <= t < end)


def test_a_storm_defers_rounds_and_they_resume_when_it_passes(recorded: tuple[WorkerPool, Recorder]) -> None:
    pool, recorder = recorded
    with ExitStack() as storm:
        for _ in range(STORM_IN_FLIGHT):
            storm.enter_context(pool.foreground())
        assert pool.busy()
        pool.start()
        began = time.monotonic()
        time.sleep(2.5 * MAX_DEFER_SECONDS)
        ended = time.monotonic()
        during = rounds_between(recorder, began, ended)
    # One short round per deferral for the whole pool: never none, never the free-running rate.
    assert 1 <= during <= 3
    assert recorder.limits[:during] == [STORM_ROUND_ITEMS] * during
    time.sleep(0.5)
    assert rounds_between(recorder, ended, time.monotonic()) > 10  # both workers run freely again
    assert recorder.limits[-1] is None


def test_ordinary_traffic_does_not_defer(recorded: tuple[WorkerPool, Recorder]) -> None:
    pool, recorder = recorded
    with ExitStack() as requests:
        for _ in range(STORM_IN_FLIGHT - 1):
            requests.enter_context(pool.foreground())
        assert not pool.busy()
        pool.start()
        began = time.monotonic()
        time.sleep(0.5)
        assert rounds_between(recorder, began, time.monotonic()) > 10
