"""CloudWatchMetricSource: real boto3 against moto in server mode (and a proxy where moto falls short)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from tenacity import wait_none

from bot.errors import ConfigError, IntegrationError
from integrations.aws.cloudwatch_metrics import CloudWatchMetricSource
from integrations.aws.cloudwatch_queries import (
    CloudWatchMetricQuery,
    CloudWatchSearch,
    normalize_statistic,
    resolve_region,
)
from integrations.aws.settings import AwsSettings, CloudWatchSettings
from integrations.metrics import RetryPolicy
from tests.fakes.cloudwatch_throttle import ACCESS_DENIED, CloudWatchProxy, SearchMatch
from tests.fakes.moto_server import MotoServer

PERIOD = timedelta(minutes=1)
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
START = NOW - timedelta(minutes=30)
END = NOW
CPU_SEARCH = "SEARCH('{AWS/EC2,InstanceId} MetricName=\"CPUUtilization\"', 'Average', 60)"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_source(sleeps: Sleeps, **settings: Any) -> CloudWatchMetricSource:
    retry = RetryPolicy(attempts=3, wait=wait_none(), sleep=sleeps)
    return CloudWatchMetricSource(CloudWatchSettings(**settings), retry=retry)


def put(namespace: str, metric: str, dims: dict[str, str], points: list[tuple[int, float]]) -> None:
    """points: (minutes before END, value)."""
    datums = [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())],
            "Timestamp": END - timedelta(minutes=ago),
            "Value": value,
        }
        for ago, value in points
    ]
    boto3.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=datums)  # type: ignore[arg-type]


def put_many(namespace: str, metric: str, count: int) -> None:
    datums: list[Any] = [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": "QueueName", "Value": f"q{i:04d}"}],
            "Timestamp": END - timedelta(minutes=5),
            "Value": float(i),
        }
        for i in range(count)
    ]
    client = boto3.client("cloudwatch")
    for offset in range(0, count, 1000):
        client.put_metric_data(Namespace=namespace, MetricData=datums[offset : offset + 1000])


@pytest.fixture
def proxy(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudWatchProxy]:
    server = CloudWatchProxy(moto.url).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    yield server
    server.stop()


def test_explicit_queries_return_one_series_each_oldest_first_in_utc(
    moto: MotoServer, sleeps: Sleeps
) -> None:
    put("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, [(3, 30.0), (10, 10.0), (6, 20.0)])
    put("AWS/EC2", "CPUUtilization", {"InstanceId": "i-2"}, [(4, 70.0)])
    source = make_source(sleeps)

    series = source.fetch(
        [
            CloudWatchMetricQuery("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, "Average"),
            CloudWatchMetricQuery("AWS/EC2", "CPUUtilization", {"InstanceId": "i-2"}, "Maximum"),
            CloudWatchMetricQuery("AWS/EC2", "CPUUtilization", {"InstanceId": "i-missing"}),
        ],
        START,
        END,
        PERIOD,
    )

    first, second, missing = series
    assert first.key == "aws/us-east-1/AWS/EC2/CPUUtilization/InstanceId=i-1/Average"
    assert first.labels == {"InstanceId": "i-1"}
    assert first.values == [10.0, 20.0, 30.0]
    assert first.timestamps == [END - timedelta(minutes=m) for m in (10, 6, 3)]
    assert all(t.tzinfo == UTC for t in first.timestamps)
    assert second.values == [70.0]
    assert missing.key.endswith("InstanceId=i-missing/Average")
    assert len(missing) == 0
    assert source.api_calls == {"GetMetricData": 1}
    assert source.health().healthy
    assert source.health().last_success_at is not None


def test_more_than_500_queries_are_split_into_batches(proxy: CloudWatchProxy, sleeps: Sleeps) -> None:
    put_many("Custom/Queues", "Depth", 520)
    source = make_source(sleeps)
    queries = [
        CloudWatchMetricQuery("Custom/Queues", "Depth", {"QueueName": f"q{i:04d}"}) for i in range(520)
    ]

    series = source.fetch(queries, START, END, PERIOD)

    assert [s.values for s in series] == [[float(i)] for i in range(520)]
    sizes = [len(body["MetricDataQueries"]) for body in proxy.calls("GetMetricData")]
    assert sizes == [500, 20]
    ids = [q["Id"] for body in proxy.calls("GetMetricData") for q in body["MetricDataQueries"]]
    assert all(i[0].islower() and i.replace("_", "").isalnum() for i in ids)
    assert source.total_api_calls == 2


def test_next_token_pages_are_followed_and_merged(proxy: CloudWatchProxy, sleeps: Sleeps) -> None:
    put(
        "AWS/ECS",
        "CPUUtilization",
        {"ClusterName": "c", "ServiceName": "web"},
        [(m, float(m)) for m in range(1, 8)],
    )
    proxy.page_size = 3
    source = make_source(sleeps)

    [series] = source.fetch(
        [CloudWatchMetricQuery("AWS/ECS", "CPUUtilization", {"ServiceName": "web", "ClusterName": "c"})],
        START,
        END,
        PERIOD,
    )

    assert series.values == [7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    assert series.key == "aws/us-east-1/AWS/ECS/CPUUtilization/ClusterName=c,ServiceName=web/Average"
    bodies = proxy.calls("GetMetricData")
    assert len(bodies) == 3
    assert "NextToken" not in bodies[0]
    assert all(b.get("NextToken") for b in bodies[1:])
    assert bodies[0]["ScanBy"] == "TimestampAscending"


def test_listing_selection_matches_the_search_schema_exactly(moto: MotoServer, sleeps: Sleeps) -> None:
    put("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, [(2, 11.0)])
    put("AWS/EC2", "CPUUtilization", {"InstanceId": "i-2"}, [(2, 22.0)])
    put("AWS/EC2", "CPUUtilization", {"AutoScalingGroupName": "asg"}, [(2, 99.0)])  # other schema
    put("AWS/EC2", "NetworkIn", {"InstanceId": "i-1"}, [(2, 5.0)])  # other metric
    source = make_source(sleeps, selection="list_metrics")

    series = source.fetch([CloudWatchSearch.parse(CPU_SEARCH)], START, END, PERIOD)

    assert sorted((s.labels["InstanceId"], s.values) for s in series) == [("i-1", [11.0]), ("i-2", [22.0])]
    assert {s.key for s in series} == {
        "aws/us-east-1/AWS/EC2/CPUUtilization/InstanceId=i-1/Average",
        "aws/us-east-1/AWS/EC2/CPUUtilization/InstanceId=i-2/Average",
    }
    assert source.api_calls == {"ListMetrics": 1, "GetMetricData": 1}


def test_listing_selection_follows_list_metrics_pages(moto: MotoServer, sleeps: Sleeps) -> None:
    put_many("Custom/Queues", "Depth", 510)  # moto pages ListMetrics at 500
    source = make_source(sleeps, selection="list_metrics")

    series = source.fetch([CloudWatchSearch("Custom/Queues", ("QueueName",), "Depth")], START, END, PERIOD)

    assert len(series) == 510
    assert source.api_calls == {"ListMetrics": 2, "GetMetricData": 2}


def test_selection_that_matches_nothing_returns_no_series(moto: MotoServer, sleeps: Sleeps) -> None:
    source = make_source(sleeps, selection="list_metrics")
    assert (
        source.fetch([CloudWatchSearch("AWS/EC2", ("InstanceId",), "CPUUtilization")], START, END, PERIOD)
        == []
    )
    assert source.api_calls == {"ListMetrics": 1}


def test_search_mode_sends_the_expression_and_reads_dimensions_from_the_label(
    proxy: CloudWatchProxy, sleeps: Sleeps
) -> None:
    search = CloudWatchSearch.parse(CPU_SEARCH)
    two, four = END - timedelta(minutes=2), END - timedelta(minutes=4)
    proxy.search_matches[CPU_SEARCH] = [
        SearchMatch("CPUUtilization", {"InstanceId": "i-9"}, [two, four], [2.0, 4.0]),
        SearchMatch("CPUUtilization", {"InstanceId": "i-8"}, [two], [8.0]),
    ]
    source = make_source(sleeps)  # selection="search", the default

    series = source.fetch([search], START, END, PERIOD)

    assert [(s.labels, s.values) for s in series] == [
        ({"InstanceId": "i-9"}, [4.0, 2.0]),
        ({"InstanceId": "i-8"}, [8.0]),
    ]
    [body] = proxy.calls("GetMetricData")
    [query] = body["MetricDataQueries"]
    assert query["Expression"] == CPU_SEARCH
    assert query["Period"] == 60
    assert "${PROP('Dim.InstanceId')}" in query["Label"]


def test_moto_answers_search_with_nothing(moto: MotoServer, sleeps: Sleeps) -> None:
    """Why tests use selection="list_metrics": moto does not evaluate SEARCH (it returns one empty result)."""
    put("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, [(2, 11.0)])
    source = make_source(sleeps)
    assert source.fetch([CloudWatchSearch.parse(CPU_SEARCH)], START, END, PERIOD) == []


def test_a_throttled_page_is_retried_alone_and_the_paginator_resumes_there(
    proxy: CloudWatchProxy, sleeps: Sleeps
) -> None:
    put(
        "AWS/ECS",
        "CPUUtilization",
        {"ClusterName": "c", "ServiceName": "web"},
        [(m, float(m)) for m in range(1, 8)],
    )
    proxy.page_size = 3
    proxy.fail("GetMetricData", times=2, after=1)  # the second page is throttled twice
    source = make_source(sleeps)

    [series] = source.fetch(
        [CloudWatchMetricQuery("AWS/ECS", "CPUUtilization", {"ServiceName": "web", "ClusterName": "c"})],
        START,
        END,
        PERIOD,
    )

    assert series.values == [7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    tokens = [body.get("NextToken") for body in proxy.calls("GetMetricData")]
    # page 1 once; page 2 three times (two throttled), with the same token; page 3 once
    assert tokens[0] is None and tokens[1] == tokens[2] == tokens[3] and tokens[4] not in (None, tokens[1])
    assert len(tokens) == 5 and len(sleeps) == 2


def test_throttling_is_retried_then_succeeds(proxy: CloudWatchProxy, sleeps: Sleeps) -> None:
    put("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, [(2, 11.0)])
    proxy.fail("GetMetricData", times=2)
    source = make_source(sleeps)

    [series] = source.fetch(
        [CloudWatchMetricQuery("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"})], START, END, PERIOD
    )

    assert series.values == [11.0]
    assert len(proxy.calls("GetMetricData")) == 3
    assert source.api_calls == {"GetMetricData": 3}
    assert len(sleeps) == 2
    # botocore's own retries are off: every request on the wire is a first attempt of one.
    sdk_attempts = {
        r.headers.get("amz-sdk-request")
        for r in proxy.service.calls("POST")
        if r.headers.get("x-amz-target", "").endswith(".GetMetricData")
    }
    assert sdk_attempts == {"attempt=1; max=1"}
    assert source.health().healthy


def test_throttling_that_does_not_stop_is_a_retryable_error_and_marks_unhealthy(
    proxy: CloudWatchProxy, sleeps: Sleeps
) -> None:
    proxy.fail("GetMetricData", times=3)
    source = make_source(sleeps)
    query = CloudWatchMetricQuery("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"})

    with pytest.raises(IntegrationError) as caught:
        source.fetch([query], START, END, PERIOD)

    assert caught.value.retryable is True
    assert caught.value.system == "cloudwatch"
    assert "Throttling" in str(caught.value)
    health = source.health()
    assert not health.healthy
    assert health.consecutive_failures == 1
    assert "Throttling" in (health.last_error or "")

    source.fetch([query], START, END, PERIOD)  # the throttling stopped
    assert source.health().healthy


def test_access_denied_is_permanent_and_not_retried(proxy: CloudWatchProxy, sleeps: Sleeps) -> None:
    proxy.fail("GetMetricData", ACCESS_DENIED)
    source = make_source(sleeps)

    with pytest.raises(IntegrationError) as caught:
        source.fetch([CloudWatchMetricQuery("AWS/EC2", "CPUUtilization")], START, END, PERIOD)

    assert caught.value.retryable is False
    assert "AccessDenied" in str(caught.value)
    assert len(proxy.calls("GetMetricData")) == 1
    assert sleeps == []
    assert not source.health().healthy


def test_fetch_alert_metric_takes_the_alarm_spelling_of_the_statistic(
    moto: MotoServer, sleeps: Sleeps
) -> None:
    put(
        "AWS/ApplicationELB",
        "TargetResponseTime",
        {"LoadBalancer": "app/lb/1"},
        [(5, 0.5), (5, 1.5), (2, 3.0)],
    )
    source = make_source(sleeps)

    series = source.fetch_alert_metric(
        "AWS/ApplicationELB",
        "TargetResponseTime",
        {"LoadBalancer": "app/lb/1"},
        "MAXIMUM",
        START,
        END,
        PERIOD,
    )

    assert series.values == [1.5, 3.0]
    assert series.key.endswith("/Maximum")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("AVERAGE", "Average", id="alarm-upper"),
        pytest.param("SAMPLE_COUNT", "SampleCount", id="alarm-snake"),
        pytest.param("sum", "Sum", id="lower"),
        pytest.param("P99", "p99", id="percentile"),
        pytest.param("p99.9", "p99.9", id="percentile-decimal"),
        pytest.param("TM(10%:90%)", "TM(10%:90%)", id="passthrough"),
    ],
)
def test_normalize_statistic(given: str, expected: str) -> None:
    assert normalize_statistic(given) == expected


def test_search_parse_and_expression_round_trip() -> None:
    text = (
        'SEARCH(\'{AWS/ECS,ClusterName,ServiceName} MetricName="CPUUtilization" ClusterName="prod"\', '
        "'p90', 300)"
    )
    search = CloudWatchSearch.parse(text)
    assert search == CloudWatchSearch(
        "AWS/ECS", ("ClusterName", "ServiceName"), "CPUUtilization", {"ClusterName": "prod"}, "p90"
    )
    assert search.expression(timedelta(minutes=5)) == text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("CPUUtilization", id="not-search"),
        pytest.param("SEARCH('CPUUtilization', 'Average', 300)", id="no-schema"),
        pytest.param("SEARCH('{AWS/EC2,InstanceId} CPUUtilization', 'Average', 300)", id="free-text"),
        pytest.param("SEARCH('{AWS/EC2} InstanceId=\"i-1\"', 'Average', 300)", id="value-outside-schema"),
    ],
)
def test_search_parse_rejects_what_listing_cannot_reproduce(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        CloudWatchSearch.parse(text)


@pytest.mark.parametrize(
    "period", [timedelta(seconds=45), timedelta(seconds=90), timedelta(milliseconds=500)]
)
def test_invalid_periods_are_refused_before_any_call(
    moto: MotoServer, sleeps: Sleeps, period: timedelta
) -> None:
    source = make_source(sleeps)
    with pytest.raises(ValueError, match="period"):
        source.fetch([CloudWatchMetricQuery("AWS/EC2", "CPUUtilization")], START, END, period)
    assert source.total_api_calls == 0


def test_region_comes_from_settings_then_aws_region_then_default_region() -> None:
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"}
    assert resolve_region(AwsSettings(region="ap-south-1"), env) == "ap-south-1"
    assert resolve_region(AwsSettings(), env) == "eu-west-1"
    assert resolve_region(AwsSettings(), {"AWS_DEFAULT_REGION": "us-east-2"}) == "us-east-2"
    with pytest.raises(ConfigError, match=r"aws\.region"):
        resolve_region(AwsSettings(), {})


def test_region_and_endpoint_from_aws_settings(moto: MotoServer, sleeps: Sleeps) -> None:
    put("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, [(2, 11.0)])  # moto ignores the region
    source = CloudWatchMetricSource(
        aws=AwsSettings(region="eu-central-1", endpoint_url=moto.url),
        retry=RetryPolicy(attempts=1, sleep=sleeps),
    )
    assert source.region == "eu-central-1"
    query = CloudWatchMetricQuery("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"})
    assert source.fetch([query], START, END, PERIOD)[0].key.startswith("aws/eu-central-1/")


def test_settings_reject_unknown_keys() -> None:
    with pytest.raises(ValueError, match="extra"):
        CloudWatchSettings.model_validate({"selecton": "search"})
