"""The detect stage fetches the metric an alert names from its own cloud: Azure Monitor over HTTPS,
Cloud Monitoring over gRPC (CloudWatch is covered by tests/pipeline/test_flow_aws.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.normalized import AlertStatus, Metric, NormalizedAlert, Provider, Resource
from bot.pipeline.metric_history import MetricHistory, NoMetric, azure_resource_uri
from integrations.aws.settings import AwsSettings, CloudWatchSettings
from integrations.azure.monitor_metrics import AzureMonitorMetricSource
from integrations.azure.settings import AzureSettings
from integrations.gcp.monitoring import CloudMonitoringMetricSource, CloudMonitoringSettings
from tests.fakes.azure_arm import FakeAzureArm, FakeCredential
from tests.fakes.azure_monitor import AzureMetricsStore
from tests.fakes.gcp_monitoring import FakeCloudMonitoring
from tests.fakes.tls import TestTLS

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
SITE = "/subscriptions/sub-1/resourceGroups/shop/providers/Microsoft.Web/sites/web"


def points(n: int = 100) -> list[tuple[datetime, float]]:
    return [(NOW - timedelta(minutes=5 * (n - i)), 10 + math.sin(i / 5)) for i in range(n)]


def history(
    *,
    azure_source: Callable[[], AzureMonitorMetricSource] | None = None,
    gcp_source: Callable[[], CloudMonitoringMetricSource] | None = None,
) -> MetricHistory:
    return MetricHistory(
        aws=AwsSettings(),
        cloudwatch=CloudWatchSettings(),
        azure=AzureSettings(),
        gcp=CloudMonitoringSettings(),
        lookback=timedelta(hours=24),
        period=timedelta(minutes=5),
        azure_source=azure_source,
        gcp_source=gcp_source,
    )


def alert(provider: Provider, resource: Resource, metric: Metric | None) -> NormalizedAlert:
    return NormalizedAlert(
        source="test",
        fingerprint="f",
        name="n",
        status=AlertStatus.FIRING,
        resource=resource.model_copy(update={"provider": provider}),
        metric=metric,
    )


@pytest.fixture
def arm(test_tls: TestTLS) -> Iterator[tuple[FakeAzureArm, AzureMetricsStore]]:
    fake = FakeAzureArm(tls=test_tls.server_context)
    store = AzureMetricsStore()
    store.install(fake)
    with fake:
        yield fake, store


def test_azure_alert_metric_is_fetched_by_its_arm_resource_id(
    arm: tuple[FakeAzureArm, AzureMetricsStore], test_tls: TestTLS
) -> None:
    fake, store = arm
    store.add(SITE, "Http5xx", points(), unit="Count")
    settings = AzureSettings(arm_endpoint=fake.url, ca_bundle=test_tls.ca_path)
    source = AzureMonitorMetricSource(settings, credential=FakeCredential())
    a = alert(
        Provider.AZURE,
        Resource(type="web:site", id="sub-1/shop/web", name="web"),
        Metric(namespace="Microsoft.Web/sites", name="Http5xx", statistic="Total"),
    )
    assert azure_resource_uri(a) == SITE
    series = history(azure_source=lambda: source).fetch(a, NOW)
    assert len(series) >= 90
    assert series.values[-1] == pytest.approx(points()[-1][1])


def test_gcp_alert_metric_is_fetched_for_its_project_and_instance() -> None:
    metric_type = "compute.googleapis.com/instance/cpu/utilization"
    with FakeCloudMonitoring(page_size=50) as fake:
        fake.add(
            "proj-1", metric_type, points(), resource_labels={"instance_id": "1122", "zone": "us-central1-c"}
        )
        fake.add("proj-1", metric_type, [(NOW, 99.0)], resource_labels={"instance_id": "9999", "zone": "x"})
        source = CloudMonitoringMetricSource(CloudMonitoringSettings(timeout_s=5), client=fake.client())
        a = alert(
            Provider.GCP,
            Resource(account="proj-1", type="gce_instance", id="1122"),
            Metric(namespace="compute.googleapis.com", name=metric_type),
        )
        series = history(gcp_source=lambda: source).fetch(a, NOW)
    assert len(series) >= 90
    assert 99.0 not in series.values  # the other instance's series is not mixed in


@pytest.mark.parametrize(
    ("a", "reason"),
    [
        pytest.param(alert(Provider.AWS, Resource(), None), "names no metric", id="no-metric"),
        pytest.param(
            alert(Provider.AWS, Resource(), Metric(name="m")), "no namespace", id="math-or-composite"
        ),
        pytest.param(alert(Provider.KUBERNETES, Resource(), Metric(name="m")), "no metric source", id="k8s"),
    ],
)
def test_alerts_without_a_usable_metric_say_why(a: NormalizedAlert, reason: str) -> None:
    with pytest.raises(NoMetric, match=reason):
        history().fetch(a, NOW)


def test_repeated_cloudwatch_fetches_return_the_same_buckets(moto: object) -> None:
    import boto3

    from bot.pipeline.metric_history import aligned_start

    start = datetime(2026, 11, 24, 3, 38, 52, 500000, tzinfo=UTC)
    assert aligned_start(start, timedelta(minutes=5)) == datetime(2026, 11, 24, 3, 35, tzinfo=UTC)
    end = datetime.now(UTC) - timedelta(seconds=30)
    dims = [{"Name": "ServiceName", "Value": "checkout"}]
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/ECS",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": dims,
                "Timestamp": end - timedelta(minutes=5 * i),
                "Value": 40.0 + i,
            }
            for i in range(12)
        ],
    )
    fetch_alert = alert(
        Provider.AWS,
        Resource(type="ecs:service", id="prod/checkout", region="us-east-1"),
        Metric(
            namespace="AWS/ECS",
            name="CPUUtilization",
            dimensions={"ServiceName": "checkout"},
            statistic="Average",
        ),
    )
    source = history()
    now = datetime.now(UTC)
    first = source.fetch(fetch_alert, now)
    again = source.fetch(fetch_alert, now + timedelta(seconds=7))
    assert len(first) >= 11
    assert list(first.timestamps) == list(again.timestamps) and list(first.values) == list(again.values)
