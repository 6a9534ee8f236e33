"""The shared pieces: retry loop, health tracking, the in-memory twin, and Protocol conformance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tenacity import wait_fixed

from bot.errors import IntegrationError
from detectors.series import MetricSeries
from integrations.aws.cloudwatch_metrics import CloudWatchMetricSource
from integrations.aws.cloudwatch_queries import CloudWatchQuery
from integrations.azure.monitor_metrics import AzureMetricQuery, AzureMonitorMetricSource
from integrations.gcp.monitoring import CloudMonitoringMetricSource, GcpMetricQuery
from integrations.metrics import (
    HealthTracker,
    InMemoryMetricSource,
    MetricSource,
    RetryPolicy,
    TransientError,
    call_with_retry,
    check_window,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _static_conformance(
    cloudwatch: CloudWatchMetricSource,
    azure: AzureMonitorMetricSource,
    gcp: CloudMonitoringMetricSource,
    memory: InMemoryMetricSource[str],
) -> list[object]:
    """Never called: mypy checks that every source satisfies `MetricSource` for its query type."""
    a: MetricSource[CloudWatchQuery] = cloudwatch
    b: MetricSource[AzureMetricQuery] = azure
    c: MetricSource[GcpMetricQuery] = gcp
    d: MetricSource[str] = memory
    return [a, b, c, d]


def test_in_memory_source_answers_within_the_window_and_records_calls() -> None:
    source: InMemoryMetricSource[str] = InMemoryMetricSource("memory")
    stamps = [T0 + i * MINUTE for i in range(5)]
    source.add("cpu", MetricSeries("k/cpu", stamps, [0.0, 1.0, 2.0, 3.0, 4.0], labels={"host": "a"}))

    [series] = source.fetch(["cpu", "unknown"], T0 + MINUTE, T0 + 3 * MINUTE, MINUTE)

    assert series.values == [1.0, 2.0]
    assert series.labels == {"host": "a"}
    [call] = source.calls
    assert call.queries == ("cpu", "unknown")
    assert (call.start, call.end, call.period) == (T0 + MINUTE, T0 + 3 * MINUTE, MINUTE)


def test_in_memory_source_failures_show_in_health() -> None:
    clock = Clock()
    source: InMemoryMetricSource[str] = InMemoryMetricSource("memory", clock=clock)
    assert source.health().healthy  # never asked: nothing against it
    source.fail_next(IntegrationError("down", retryable=True), times=1)

    with pytest.raises(IntegrationError):
        source.fetch(["cpu"], T0, T0 + MINUTE, MINUTE)

    health = source.health()
    assert not health.healthy
    assert health.last_error == "IntegrationError: down"
    assert health.last_error_at == T0
    assert health.last_success_at is None

    clock.now = T0 + MINUTE
    source.fetch(["cpu"], T0, T0 + MINUTE, MINUTE)
    health = source.health()
    assert health.healthy
    assert health.last_success_at == T0 + MINUTE
    assert health.last_error == "IntegrationError: down"  # kept for the report


def test_health_tracker_threshold() -> None:
    tracker = HealthTracker("s", unhealthy_after=2)
    tracker.record_failure(RuntimeError("one"))
    assert tracker.snapshot().healthy
    tracker.record_failure(RuntimeError("two"))
    assert not tracker.snapshot().healthy
    assert tracker.snapshot().consecutive_failures == 2
    tracker.record_success()
    assert tracker.snapshot().healthy
    with pytest.raises(ValueError, match="unhealthy_after"):
        HealthTracker("s", unhealthy_after=0)


def test_retry_waits_what_the_server_asks_capped_else_the_fallback() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=4, wait=wait_fixed(2), sleep=sleeps, max_retry_after=30)
    errors = [
        TransientError("429", retry_after=5),
        TransientError("429", retry_after=600),
        TransientError("503"),
    ]

    def call() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    assert call_with_retry(call, policy=policy, system="x", operation="op") == "ok"
    assert sleeps == [5.0, 30.0, 2.0]


def test_retry_gives_up_with_a_retryable_integration_error() -> None:
    sleeps = Sleeps()

    def call() -> None:
        raise TransientError("still throttled")

    with pytest.raises(IntegrationError, match="after 3 attempts: still throttled") as caught:
        call_with_retry(
            call, policy=RetryPolicy(attempts=3, wait=wait_fixed(0), sleep=sleeps), system="x", operation="op"
        )
    assert caught.value.retryable is True
    assert caught.value.system == "x"
    assert isinstance(caught.value.__cause__, TransientError)
    assert len(sleeps) == 2


def test_permanent_errors_pass_straight_through() -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        raise IntegrationError("denied", retryable=False)

    with pytest.raises(IntegrationError, match="denied"):
        call_with_retry(call, policy=RetryPolicy(attempts=5, sleep=Sleeps()), system="x", operation="op")
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("start", "end", "period", "message"),
    [
        pytest.param(datetime(2026, 1, 1), T0, MINUTE, "timezone-aware", id="naive"),
        pytest.param(T0, T0, MINUTE, "after start", id="empty"),
        pytest.param(T0, T0 + MINUTE, timedelta(0), "positive", id="zero-period"),
    ],
)
def test_check_window_refuses_bad_windows(
    start: datetime, end: datetime, period: timedelta, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_window(start, end, period)


def test_check_window_converts_to_utc() -> None:
    from zoneinfo import ZoneInfo

    local = T0.astimezone(ZoneInfo("Europe/Paris"))
    start, _ = check_window(local, local + MINUTE, MINUTE)
    assert start.tzinfo == UTC
    assert start == T0
