"""CloudMonitoringMetricSource: the real MetricServiceClient over gRPC to a local fake server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.cloud.monitoring_v3 import types as mtypes
from tenacity import wait_none

from bot.errors import IntegrationError
from integrations.gcp.monitoring import CloudMonitoringMetricSource, CloudMonitoringSettings, GcpMetricQuery
from integrations.metrics import RetryPolicy
from tests.fakes.gcp_monitoring import FakeCloudMonitoring

CPU = "compute.googleapis.com/instance/cpu/utilization"
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
START = END - timedelta(minutes=10)
PERIOD = timedelta(minutes=1)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeCloudMonitoring]:
    with FakeCloudMonitoring(page_size=2) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_source(fake: FakeCloudMonitoring, sleeps: Sleeps) -> CloudMonitoringMetricSource:
    return CloudMonitoringMetricSource(
        CloudMonitoringSettings(timeout_s=5),
        client=fake.client(),
        retry=RetryPolicy(attempts=3, wait=wait_none(), sleep=sleeps),
    )


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def add_instances(fake: FakeCloudMonitoring, count: int) -> None:
    for i in range(count):
        fake.add(
            "proj",
            CPU,
            [(at(1), 0.1 * i), (at(2), 0.2 * i), (at(3), 0.3 * i)],
            resource_labels={"instance_id": f"i{i}", "zone": "europe-west1-b"},
            unit="10^2.%",
        )


def test_pages_are_followed_and_points_come_back_oldest_first(
    fake: FakeCloudMonitoring, sleeps: Sleeps
) -> None:
    add_instances(fake, 3)
    fake.add("proj", CPU, [(at(4), 1.0)], resource_type="gke_container")  # other resource type
    fake.add("proj", "compute.googleapis.com/instance/disk/read_ops_count", [(at(1), 9.0)])
    source = make_source(fake, sleeps)

    series = source.fetch([GcpMetricQuery("proj", CPU, "gce_instance")], START, END, PERIOD)

    assert [s.labels["resource.labels.instance_id"] for s in series] == ["i0", "i1", "i2"]
    second = series[1]
    assert second.timestamps == [at(1), at(2), at(3)]
    assert second.values == pytest.approx([0.1, 0.2, 0.3])
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in second.timestamps)
    assert second.unit == "10^2.%"
    assert second.labels == {
        "resource.type": "gce_instance",
        "resource.labels.instance_id": "i1",
        "resource.labels.zone": "europe-west1-b",
    }
    assert second.key == (
        "gcp/proj/compute.googleapis.com/instance/cpu/utilization/"
        "resource.labels.instance_id=i1,resource.labels.zone=europe-west1-b,resource.type=gce_instance/ALIGN_MEAN"
    )

    first, following = fake.requests
    assert first.name == "projects/proj"
    assert first.filter == f'metric.type = "{CPU}" AND resource.type = "gce_instance"'
    assert first.view == mtypes.ListTimeSeriesRequest.TimeSeriesView.FULL
    assert first.interval.start_time == START
    assert first.interval.end_time == END
    assert first.aggregation.alignment_period == PERIOD
    assert first.aggregation.per_series_aligner == mtypes.Aggregation.Aligner.ALIGN_MEAN
    assert first.page_token == ""
    assert following.page_token == "2"
    assert source.api_calls == {"ListTimeSeries": 2}
    assert source.health().healthy


def test_int64_values_and_label_filters(fake: FakeCloudMonitoring, sleeps: Sleeps) -> None:
    metric = "loadbalancing.googleapis.com/https/request_count"
    fake.add(
        "proj",
        metric,
        [(at(2), 7), (at(1), 3)],
        resource_type="https_lb_rule",
        metric_labels={"response_code": "500"},
    )
    fake.add(
        "proj", metric, [(at(2), 900)], resource_type="https_lb_rule", metric_labels={"response_code": "200"}
    )
    source = make_source(fake, sleeps)

    [series] = source.fetch(
        [
            GcpMetricQuery(
                "proj", metric, label_filters={"metric.labels.response_code": "500"}, per_series_aligner=None
            )
        ],
        START,
        END,
        PERIOD,
    )

    assert series.values == [3.0, 7.0]
    assert series.key.endswith("/RAW")
    assert not mtypes.ListTimeSeriesRequest.pb(fake.requests[0]).HasField("aggregation")


def test_unavailable_is_retried_for_the_failing_page_only(fake: FakeCloudMonitoring, sleeps: Sleeps) -> None:
    add_instances(fake, 3)
    fake.fail_next(grpc.StatusCode.UNAVAILABLE, "backend restarting", page_token="2")
    source = make_source(fake, sleeps)

    series = source.fetch([GcpMetricQuery("proj", CPU)], START, END, PERIOD)

    assert len(series) == 3
    assert [r.page_token for r in fake.requests] == ["", "2", "2"]  # page one was not fetched again
    assert len(sleeps) == 1
    assert source.api_calls == {"ListTimeSeries": 3}
    assert source.health().healthy


def test_unavailable_then_success(fake: FakeCloudMonitoring, sleeps: Sleeps) -> None:
    add_instances(fake, 1)
    fake.fail_next(grpc.StatusCode.UNAVAILABLE, times=2)
    source = make_source(fake, sleeps)

    [series] = source.fetch([GcpMetricQuery("proj", CPU)], START, END, PERIOD)

    assert len(series) == 3
    assert len(fake.requests) == 3
    assert len(sleeps) == 2


def test_unavailable_that_does_not_stop_is_retryable_and_marks_unhealthy(
    fake: FakeCloudMonitoring, sleeps: Sleeps
) -> None:
    fake.fail_next(grpc.StatusCode.UNAVAILABLE, times=3)
    source = make_source(fake, sleeps)

    with pytest.raises(IntegrationError) as caught:
        source.fetch([GcpMetricQuery("proj", CPU)], START, END, PERIOD)

    assert caught.value.retryable is True
    assert len(fake.requests) == 3
    assert not source.health().healthy
    assert "ServiceUnavailable" in (source.health().last_error or "")


def test_permission_denied_is_permanent_and_not_retried(fake: FakeCloudMonitoring, sleeps: Sleeps) -> None:
    fake.fail_next(grpc.StatusCode.PERMISSION_DENIED, "monitoring.timeSeries.list denied")
    source = make_source(fake, sleeps)

    with pytest.raises(IntegrationError) as caught:
        source.fetch([GcpMetricQuery("proj", CPU)], START, END, PERIOD)

    assert caught.value.retryable is False
    assert caught.value.system == "cloud-monitoring"
    assert "PermissionDenied" in str(caught.value)
    assert len(fake.requests) == 1
    assert sleeps == []
    assert not source.health().healthy


def test_no_match_returns_no_series(fake: FakeCloudMonitoring, sleeps: Sleeps) -> None:
    source = make_source(fake, sleeps)
    assert source.fetch([GcpMetricQuery("proj", CPU)], START, END, PERIOD) == []
    assert source.health().healthy


def test_fetch_alert_metric_filters_on_the_alert_labels(fake: FakeCloudMonitoring, sleeps: Sleeps) -> None:
    add_instances(fake, 3)
    source = make_source(fake, sleeps)

    series = source.fetch_alert_metric(
        "proj", CPU, START, END, PERIOD, resource_type="gce_instance", resource_labels={"instance_id": "i2"}
    )

    assert series.values == pytest.approx([0.2, 0.4, 0.6])
    assert fake.requests[0].filter == (
        f'metric.type = "{CPU}" AND resource.type = "gce_instance" AND resource.labels.instance_id = "i2"'
    )
    missing = source.fetch_alert_metric(
        "proj", CPU, START, END, PERIOD, resource_labels={"instance_id": "nope"}
    )
    assert len(missing) == 0
    assert missing.labels == {"resource.labels.instance_id": "nope"}


def test_query_filter_quotes_and_validates() -> None:
    query = GcpMetricQuery(
        "p", "custom.googleapis.com/x", label_filters={"metric.labels.path": 'a"b'}, extra_filter="x"
    )
    assert (
        query.filter() == 'metric.type = "custom.googleapis.com/x" AND metric.labels.path = "a\\"b" AND (x)'
    )
    with pytest.raises(ValueError, match="aligner"):
        GcpMetricQuery("p", "m", per_series_aligner="ALIGN_AVERAGE")
    with pytest.raises(ValueError, match="reducer"):
        GcpMetricQuery("p", "m", cross_series_reducer="REDUCE_AVG")
