"""What the detect stage and scheduled sweeps need from a metric backend.

`MetricSource` is the contract (CloudWatch, Azure Monitor and Cloud Monitoring implement it;
`InMemoryMetricSource` is its recording twin for unit tests of callers). This module also holds the
pieces the three real sources share: the retry loop (tenacity, with an injectable wait and sleep so
tests never sleep) and the health tracker that turns "kept failing" into an unhealthy report instead
of a silently skipped source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Generic, Protocol, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from bot.clock import Clock, utc_now
from bot.errors import ConductorError, IntegrationError
from detectors.series import MetricSeries

log = logging.getLogger(__name__)

QueryT = TypeVar("QueryT")
QueryT_contra = TypeVar("QueryT_contra", contravariant=True)
T = TypeVar("T")


# --------------------------------------------------------------------------- health


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A source's state as `/readyz`, `/metrics` and the sweep report show it."""

    source: str
    healthy: bool
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0


class HealthTracker:
    """Counts consecutive failed fetches; `unhealthy_after` of them in a row make a source unhealthy.

    A failed fetch has already been retried, so the default of 1 reports a source as unhealthy as
    soon as one fetch gives up. A source that was never asked is healthy (nothing is known against it).
    """

    def __init__(self, source: str, *, clock: Clock = utc_now, unhealthy_after: int = 1) -> None:
        if unhealthy_after < 1:
            raise ValueError("unhealthy_after must be at least 1")
        self._source = source
        self._clock = clock
        self._unhealthy_after = unhealthy_after
        self._lock = threading.Lock()
        self._failures = 0
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._last_success_at: datetime | None = None

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._last_success_at = self._clock()

    def record_failure(self, error: BaseException) -> None:
        with self._lock:
            self._failures += 1
            self._last_error = f"{type(error).__name__}: {error}"
            self._last_error_at = self._clock()

    def snapshot(self) -> SourceHealth:
        with self._lock:
            return SourceHealth(
                source=self._source,
                healthy=self._failures < self._unhealthy_after,
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                last_success_at=self._last_success_at,
                consecutive_failures=self._failures,
            )


# --------------------------------------------------------------------------- the contract


class MetricSource(Protocol[QueryT_contra]):
    """A metric backend. Each implementation has its own query type (see the sources' modules).

    `fetch` returns one `MetricSeries` per matched series, timestamps tz-aware UTC and oldest
    first, holding the data of the window `start`..`end` at `period` resolution (each backend stamps
    a period its own way: CloudWatch and Azure Monitor at its start, Cloud Monitoring at its end).
    It raises
    `IntegrationError(retryable=True)` when the backend stayed unavailable after retries and
    `IntegrationError(retryable=False)` for errors that trying again will not fix (denied, bad query).
    """

    @property
    def name(self) -> str: ...

    def fetch(
        self, queries: Sequence[QueryT_contra], start: datetime, end: datetime, period: timedelta
    ) -> list[MetricSeries]: ...

    def health(self) -> SourceHealth: ...


def check_window(start: datetime, end: datetime, period: timedelta) -> tuple[datetime, datetime]:
    """Validate a fetch window and return it in UTC. Naive datetimes are a programming error."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    if period <= timedelta(0):
        raise ValueError("period must be positive")
    return start.astimezone(UTC), end.astimezone(UTC)


def sorted_points(points: Sequence[tuple[datetime, float]]) -> tuple[list[datetime], list[float]]:
    """UTC timestamps oldest first; a duplicated timestamp keeps the last value seen."""
    by_time: dict[datetime, float] = {}
    for ts, value in points:
        by_time[ts.astimezone(UTC)] = float(value)
    stamps = sorted(by_time)
    return stamps, [by_time[t] for t in stamps]


# --------------------------------------------------------------------------- retries


class TransientError(ConductorError):
    """Raised inside a retried call for a failure that may pass (throttled, unavailable, timeout).

    `retry_after` (seconds) is the server's own hint, e.g. an HTTP `Retry-After` header.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class _HonourRetryAfter(wait_base):
    """Wait what the server asked for (capped), otherwise what the fallback strategy says."""

    def __init__(self, fallback: wait_base, cap: float) -> None:
        self._fallback = fallback
        self._cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return max(0.0, min(error.retry_after, self._cap))
        return float(self._fallback(retry_state))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a source retries transient failures. Tests pass `wait=wait_none()` and a recording `sleep`."""

    attempts: int = 5
    wait: wait_base = field(default_factory=lambda: wait_random_exponential(multiplier=0.5, max=20))
    sleep: Callable[[float], None] = time.sleep
    max_retry_after: float = 60.0  # never wait longer than this, whatever Retry-After says


def call_with_retry(call: Callable[[], T], *, policy: RetryPolicy, system: str, operation: str) -> T:
    """Run `call`, retrying `TransientError` per `policy`.

    `call` raises `TransientError` for what may pass and `IntegrationError(retryable=False)` for
    what will not (that one is not retried). When the attempts run out the last transient failure
    becomes `IntegrationError(retryable=True)`.
    """

    def before_sleep(state: RetryCallState) -> None:
        outcome = state.outcome
        log.warning(
            "%s %s failed (attempt %d of %d), retrying in %.1fs: %s",
            system,
            operation,
            state.attempt_number,
            policy.attempts,
            state.next_action.sleep if state.next_action else 0.0,
            outcome.exception() if outcome is not None else "",
        )

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=_HonourRetryAfter(policy.wait, policy.max_retry_after),
        retry=retry_if_exception_type(TransientError),
        sleep=policy.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(call)
    except TransientError as error:
        raise IntegrationError(
            f"{system} {operation} still failing after {policy.attempts} attempts: {error}",
            retryable=True,
            system=system,
        ) from error


# --------------------------------------------------------------------------- in-memory twin


class MetricSourceBase:
    """What every metric source sets up the same way, once: its retry policy (`call_with_retry`
    is the one retry layer; the SDK's own retries are off), its health (`HealthTracker`, updated by
    `recording_health` around each fetch), a lock for a lazily built client, and `api_calls`, the
    requests sent per operation. Subclasses set `system` and implement `fetch`."""

    system: ClassVar[str]

    def __init__(
        self, *, attempts: int, retry: RetryPolicy | None, clock: Clock, unhealthy_after: int
    ) -> None:
        self._lock = threading.Lock()
        self._retry = retry or RetryPolicy(attempts=attempts)
        self._health = HealthTracker(self.system, clock=clock, unhealthy_after=unhealthy_after)
        self.api_calls: Counter[str] = Counter()

    @property
    def name(self) -> str:
        return self.system

    @property
    def total_api_calls(self) -> int:
        return sum(self.api_calls.values())

    def health(self) -> SourceHealth:
        return self._health.snapshot()

    @contextmanager
    def recording_health(self) -> Iterator[None]:
        """Around one fetch: an `IntegrationError` counts against the source's health (and is
        raised on); a fetch that returns counts for it."""
        try:
            yield
        except IntegrationError as error:
            self._health.record_failure(error)
            raise
        self._health.record_success()

    def with_retry(self, operation: str, attempt: Callable[[], T]) -> T:
        return call_with_retry(attempt, policy=self._retry, system=self.system, operation=operation)


@dataclass(frozen=True, slots=True)
class FetchCall(Generic[QueryT]):
    queries: tuple[QueryT, ...]
    start: datetime
    end: datetime
    period: timedelta


class InMemoryMetricSource(Generic[QueryT]):
    """A `MetricSource` holding series in memory and recording every fetch, for unit tests of callers.

    `add(query, series...)` says what a query returns (queries are compared with `==`); `fail_next`
    makes the next fetches raise, and the failures show in `health()` as with a real source.
    """

    def __init__(self, name: str = "memory", *, clock: Clock = utc_now, unhealthy_after: int = 1) -> None:
        self._name = name
        self._answers: list[tuple[QueryT, list[MetricSeries]]] = []
        self._failures: list[IntegrationError] = []
        self._health = HealthTracker(name, clock=clock, unhealthy_after=unhealthy_after)
        self.calls: list[FetchCall[QueryT]] = []

    @property
    def name(self) -> str:
        return self._name

    def add(self, query: QueryT, *series: MetricSeries) -> None:
        self._answers.append((query, list(series)))

    def fail_next(self, error: IntegrationError, *, times: int = 1) -> None:
        self._failures.extend([error] * times)

    def fetch(
        self, queries: Sequence[QueryT], start: datetime, end: datetime, period: timedelta
    ) -> list[MetricSeries]:
        start, end = check_window(start, end, period)
        self.calls.append(FetchCall(tuple(queries), start, end, period))
        if self._failures:
            error = self._failures.pop(0)
            self._health.record_failure(error)
            raise error
        found: list[MetricSeries] = []
        for query in queries:
            for known, series in self._answers:
                if known == query:
                    found.extend(_window(s, start, end) for s in series)
        self._health.record_success()
        return found

    def health(self) -> SourceHealth:
        return self._health.snapshot()


def _window(series: MetricSeries, start: datetime, end: datetime) -> MetricSeries:
    kept = [(t, v) for t, v in zip(series.timestamps, series.values, strict=True) if start <= t < end]
    return MetricSeries(
        key=series.key,
        timestamps=[t for t, _ in kept],
        values=[v for _, v in kept],
        unit=series.unit,
        labels=dict(series.labels),
    )
