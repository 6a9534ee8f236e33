"""AzureMonitorMetricSource: real azure-mgmt-monitor over HTTPS to a local ARM fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tenacity import wait_none

from bot.errors import IntegrationError
from integrations.azure.monitor_metrics import (
    AzureMetricQuery,
    AzureMonitorMetricSource,
    azure_series_key,
    dimension_filter,
)
from integrations.azure.settings import AzureSettings
from integrations.metrics import RetryPolicy
from tests.fakes import tls as fake_tls
from tests.fakes.azure_arm import FakeAzureArm
from tests.fakes.azure_monitor import FakeAzureMonitor, FakeCredential

SITE = "/subscriptions/sub-1/resourceGroups/rg-web/providers/Microsoft.Web/sites/shop"
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
START = END - timedelta(minutes=10)
PERIOD = timedelta(minutes=1)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def monitor(test_tls: fake_tls.TestTLS) -> Iterator[FakeAzureMonitor]:
    with FakeAzureMonitor(tls=test_tls.server_context) as fake:
        yield fake


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_source(
    url: str, test_tls: fake_tls.TestTLS, sleeps: Sleeps, credential: FakeCredential | None = None
) -> AzureMonitorMetricSource:
    return AzureMonitorMetricSource(
        AzureSettings(arm_endpoint=url, ca_bundle=test_tls.ca_path),
        credential=credential or FakeCredential(),
        retry=RetryPolicy(attempts=3, wait=wait_none(), sleep=sleeps),
    )


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def test_metrics_come_back_per_time_series_oldest_first(
    monitor: FakeAzureMonitor, test_tls: fake_tls.TestTLS, sleeps: Sleeps
) -> None:
    monitor.metrics.add(SITE, "CpuTime", [(at(5), 5.0), (at(1), 1.0), (at(3), 3.0)], unit="Seconds")
    monitor.metrics.add(SITE, "Http5xx", [(at(2), 4.0)], unit="Count", dimensions={"Instance": "vm-a"})
    monitor.metrics.add(
        SITE, "Http5xx", [(at(2), 6.0), (at(4), 1.0)], unit="Count", dimensions={"Instance": "vm-b"}
    )
    credential = FakeCredential()
    source = make_source(monitor.url, test_tls, sleeps, credential)

    cpu, five_a, five_b = source.fetch(
        [
            AzureMetricQuery(SITE, ("CpuTime",), "Total"),
            AzureMetricQuery(SITE, ("Http5xx",), "Total", filter="Instance eq '*'"),
        ],
        START,
        END,
        PERIOD,
    )

    assert cpu.key == (
        "azure/subscriptions/sub-1/resourcegroups/rg-web/providers/microsoft.web/sites/shop/CpuTime/Total"
    )
    assert cpu.values == [1.0, 3.0, 5.0]  # grains without data (bare timeStamp) are gaps
    assert cpu.timestamps == [at(1), at(3), at(5)]
    assert all(t.tzinfo == UTC for t in cpu.timestamps)
    assert cpu.unit == "Seconds"
    assert cpu.labels == {"resource_id": SITE}
    assert (five_a.labels["Instance"], five_a.values) == ("vm-a", [4.0])
    assert (five_b.labels["Instance"], five_b.values) == ("vm-b", [6.0, 1.0])
    assert five_b.key.endswith("/Http5xx/Instance=vm-b/Total")

    first = monitor.metric_calls()[0]
    assert first.path == f"{SITE}/providers/Microsoft.Insights/metrics"
    assert first.headers["authorization"] == "Bearer fake-arm-token"
    assert first.query["timespan"] == ["2026-11-20T11:50:00Z/2026-11-20T12:00:00Z"]
    assert first.query["interval"] == ["PT1M"]
    assert first.query["aggregation"] == ["Total"]
    assert first.query["metricnames"] == ["CpuTime"]
    assert "api-version" in first.query
    assert monitor.metric_calls()[1].query["$filter"] == ["Instance eq '*'"]
    assert credential.scopes[0] == (f"{monitor.url}/.default",)  # scope follows the endpoint
    assert source.api_calls == {"metrics.list": 2}
    assert source.health().healthy


def test_more_than_20_metric_names_are_split_into_calls(
    monitor: FakeAzureMonitor, test_tls: fake_tls.TestTLS, sleeps: Sleeps
) -> None:
    names = tuple(f"Metric{i:02d}" for i in range(25))
    for i, name in enumerate(names):
        monitor.metrics.add(SITE, name, [(at(1), float(i))])
    source = make_source(monitor.url, test_tls, sleeps)

    series = source.fetch([AzureMetricQuery(SITE, names)], START, END, PERIOD)

    assert [s.values for s in series] == [[float(i)] for i in range(25)]
    assert [len(r.query["metricnames"][0].split(",")) for r in monitor.metric_calls()] == [20, 5]


def test_throttling_honours_retry_after_then_succeeds(
    monitor: FakeAzureMonitor, test_tls: fake_tls.TestTLS, sleeps: Sleeps
) -> None:
    monitor.metrics.add(SITE, "CpuTime", [(at(1), 1.0)])
    monitor.fail_next(429, code="TooManyRequests", headers={"Retry-After": "7"}, times=2)
    source = make_source(monitor.url, test_tls, sleeps)

    [series] = source.fetch([AzureMetricQuery(SITE, ("CpuTime",))], START, END, PERIOD)

    assert series.values == [1.0]
    assert sleeps == [7.0, 7.0]
    assert len(monitor.metric_calls()) == 3  # azure-core itself did not retry
    assert source.health().healthy


def test_throttling_that_does_not_stop_is_retryable_and_marks_unhealthy(
    monitor: FakeAzureMonitor, test_tls: fake_tls.TestTLS, sleeps: Sleeps
) -> None:
    monitor.fail_next(503, code="ServiceUnavailable", times=3)
    source = make_source(monitor.url, test_tls, sleeps)

    with pytest.raises(IntegrationError) as caught:
        source.fetch([AzureMetricQuery(SITE, ("CpuTime",))], START, END, PERIOD)

    assert caught.value.retryable is True
    assert len(monitor.metric_calls()) == 3
    health = source.health()
    assert not health.healthy
    assert "503" in (health.last_error or "")


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param(403, "AuthorizationFailed", id="forbidden"),
        pytest.param(401, "InvalidAuthenticationToken", id="unauthenticated"),
        pytest.param(400, "BadRequest", id="bad-request"),
    ],
)
def test_permanent_errors_are_not_retried(
    monitor: FakeAzureMonitor, test_tls: fake_tls.TestTLS, sleeps: Sleeps, status: int, code: str
) -> None:
    monitor.fail_next(status, code=code, message="The client 'bot' does not have authorization")
    source = make_source(monitor.url, test_tls, sleeps)

    with pytest.raises(IntegrationError) as caught:
        source.fetch([AzureMetricQuery(SITE, ("CpuTime",))], START, END, PERIOD)

    assert caught.value.retryable is False
    assert caught.value.system == "azure-monitor"
    assert str(status) in str(caught.value)
    assert len(monitor.metric_calls()) == 1
    assert sleeps == []
    assert not source.health().healthy


def test_unknown_resource_is_a_permanent_error(
    monitor: FakeAzureMonitor, test_tls: fake_tls.TestTLS, sleeps: Sleeps
) -> None:
    source = make_source(monitor.url, test_tls, sleeps)
    with pytest.raises(IntegrationError, match="404") as caught:
        source.fetch([AzureMetricQuery(SITE + "-gone", ("CpuTime",))], START, END, PERIOD)
    assert caught.value.retryable is False


def test_fetch_alert_metric_filters_on_the_alert_dimensions(
    monitor: FakeAzureMonitor, test_tls: fake_tls.TestTLS, sleeps: Sleeps
) -> None:
    monitor.metrics.add(
        SITE, "MemoryWorkingSet", [(at(1), 10.0), (at(2), 30.0)], dimensions={"Instance": "vm-a"}
    )
    source = make_source(monitor.url, test_tls, sleeps)

    series = source.fetch_alert_metric(
        SITE.lower(), "MemoryWorkingSet", "Maximum", START, END, PERIOD, dimensions={"Instance": "vm-a"}
    )

    assert series.values == [10.0, 30.0]
    assert monitor.metric_calls()[0].query["$filter"] == ["Instance eq 'vm-a'"]
    assert monitor.metric_calls()[0].query["aggregation"] == ["Maximum"]


def test_resource_without_data_gives_an_empty_alert_series(
    monitor: FakeAzureMonitor, test_tls: fake_tls.TestTLS, sleeps: Sleeps
) -> None:
    monitor.metrics.add(SITE, "CpuTime", [])
    source = make_source(monitor.url, test_tls, sleeps)
    series = source.fetch_alert_metric(SITE, "CpuTime", "Total", START, END, PERIOD)
    assert len(series) == 0
    assert series.key == azure_series_key(SITE, "CpuTime", "Total", {})


def test_ca_bundle_from_requests_ca_bundle_when_settings_have_none(
    monitor: FakeAzureMonitor, test_tls: fake_tls.TestTLS, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(test_tls.ca_path))
    monitor.metrics.add(SITE, "CpuTime", [(at(1), 1.0)])
    source = AzureMonitorMetricSource(
        AzureSettings(arm_endpoint=monitor.url),
        credential=FakeCredential(),
        retry=RetryPolicy(attempts=1, wait=wait_none(), sleep=sleeps),
    )
    assert source.fetch([AzureMetricQuery(SITE, ("CpuTime",))], START, END, PERIOD)[0].values == [1.0]


def test_the_web_arm_fake_serves_metrics_too(test_tls: fake_tls.TestTLS, sleeps: Sleeps) -> None:
    """Same ARM endpoint as azure-mgmt-web: the metrics routes mount on the App Service fake."""
    with FakeAzureArm(tls=test_tls.server_context) as arm:
        from tests.fakes.azure_monitor import AzureMetricsStore

        store = AzureMetricsStore()
        store.install(arm)
        store.add(SITE, "CpuTime", [(at(1), 2.0)])
        source = make_source(arm.url, test_tls, sleeps)
        assert source.fetch([AzureMetricQuery(SITE, ("CpuTime",))], START, END, PERIOD)[0].values == [2.0]


def test_unsupported_period_is_refused_before_any_call(
    monitor: FakeAzureMonitor, test_tls: fake_tls.TestTLS, sleeps: Sleeps
) -> None:
    source = make_source(monitor.url, test_tls, sleeps)
    with pytest.raises(ValueError, match="PT1M"):
        source.fetch([AzureMetricQuery(SITE, ("CpuTime",))], START, END, timedelta(minutes=2))
    assert monitor.metric_calls() == []


@pytest.mark.parametrize(
    ("dimensions", "expected"),
    [
        pytest.param({}, None, id="none"),
        pytest.param({"Instance": "a"}, "Instance eq 'a'", id="one"),
        pytest.param({"B": "x", "A": "o'k"}, "A eq 'o''k' and B eq 'x'", id="sorted-and-quoted"),
    ],
)
def test_dimension_filter(dimensions: dict[str, str], expected: str | None) -> None:
    assert dimension_filter(dimensions) == expected


def test_query_validation() -> None:
    with pytest.raises(ValueError, match="aggregation"):
        AzureMetricQuery(SITE, ("CpuTime",), "Mean")
    with pytest.raises(ValueError, match="metric_names"):
        AzureMetricQuery(SITE, "CpuTime")  # type: ignore[arg-type]
