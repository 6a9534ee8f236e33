"""The anomaly sweep on Azure Monitor (HTTPS fake, real azure-mgmt-monitor) and Cloud Monitoring (local
gRPC server, real google-cloud-monitoring, paged answers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from tenacity import wait_none

from bot.runtime import Runtime
from bot.store.models import Alert, Incident
from bot.sweeps.runner import run_sweep
from integrations.azure.monitor_metrics import AzureMonitorMetricSource
from integrations.gcp.monitoring import CloudMonitoringMetricSource
from integrations.metrics import RetryPolicy
from tests.fakes.azure_monitor import FakeAzureMonitor, FakeCredential
from tests.fakes.gcp_monitoring import FakeCloudMonitoring
from tests.fakes.tls import TestTLS
from tests.sweeps.conftest import NOW, context_for, cpu_values, make_runtime, stamps

POINTS = 576
SUB = "/subscriptions/sub-1/resourceGroups/rg-web/providers/Microsoft.Web/sites"
CPU_TYPE = "compute.googleapis.com/instance/cpu/utilization"
NO_RETRY = RetryPolicy(attempts=1, wait=wait_none(), sleep=lambda _s: None)


@pytest.fixture
def monitor(test_tls: TestTLS) -> Iterator[FakeAzureMonitor]:
    with FakeAzureMonitor(tls=test_tls.server_context) as fake:
        yield fake


@pytest.fixture
def gcp() -> Iterator[FakeCloudMonitoring]:
    with FakeCloudMonitoring(page_size=2) as fake:
        yield fake


def azure_sweep(**extra: Any) -> dict[str, Any]:
    return {
        "name": "web-apps",
        "kind": "anomaly",
        "lookback_minutes": 2 * 24 * 60,
        "azure": [
            {"resource_uri": f"{SUB}/shop", "metrics": ["CpuTime", "Requests"]},
            {"resource_uri": f"{SUB}/blog", "metrics": ["CpuTime"]},
        ],
        **extra,
    }


def azure_runtime(
    data_dir: Path, monitor: FakeAzureMonitor, test_tls: TestTLS, sweep: dict[str, Any]
) -> Runtime:
    return make_runtime(
        data_dir, [sweep], azure={"arm_endpoint": monitor.url, "ca_bundle": str(test_tls.ca_path)}
    )


def add_azure(monitor: FakeAzureMonitor) -> None:
    for seed, (site, metric, spike) in enumerate(
        [("shop", "CpuTime", 10), ("shop", "Requests", 0), ("blog", "CpuTime", 0)]
    ):
        points = list(zip(stamps(POINTS), cpu_values(POINTS, seed=seed, spike=spike), strict=True))
        monitor.metrics.add(f"{SUB}/{site}", metric, points, unit="Seconds")


def add_gcp(fake: FakeCloudMonitoring) -> None:
    for seed, (instance, spike) in enumerate([("1001", 10), ("1002", 0), ("1003", 0)]):
        values = [v / 100 for v in cpu_values(POINTS, seed=seed, spike=spike)]
        fake.add(
            "proj",
            CPU_TYPE,
            list(zip(stamps(POINTS), values, strict=True)),
            resource_labels={"instance_id": instance, "zone": "europe-west1-b", "project_id": "proj"},
        )


def test_azure_anomaly_is_found_and_becomes_an_incident(
    monitor: FakeAzureMonitor, test_tls: TestTLS, data_dir: Path, runtimes: list[Runtime]
) -> None:
    add_azure(monitor)
    runtime = azure_runtime(data_dir, monitor, test_tls, azure_sweep())
    runtimes.append(runtime)
    azure = AzureMonitorMetricSource(runtime.settings.azure, credential=FakeCredential(), retry=NO_RETRY)

    report = run_sweep("web-apps", context=context_for(runtime, azure=azure), now=NOW)

    assert report.status == "ok", report.error
    assert report.series_scanned == 3
    assert len(monitor.metric_calls()) == 2  # one call per resource, both metrics in one
    (finding,) = report.findings
    assert finding["metric"]["name"] == "CpuTime"
    assert finding["metric"]["namespace"] == "Microsoft.Web/sites"
    assert finding["resource"] == {
        "provider": "azure",
        "account": "sub-1",
        "region": None,
        "type": "web:site",
        "id": "sub-1/rg-web/shop",
        "name": "shop",
    }
    runtime.processor.run_once("w")
    with runtime.store.sessions() as session:
        alert = session.scalars(select(Alert)).one()
        assert (alert.source, alert.name, alert.status) == ("sweep", "CpuTime anomaly", "firing")
        incident = session.scalars(select(Incident)).one()
        assert incident.resource_id == "sub-1/rg-web/shop"


def test_gcp_anomaly_is_found_across_pages(
    gcp: FakeCloudMonitoring, data_dir: Path, runtimes: list[Runtime]
) -> None:
    add_gcp(gcp)
    sweep = {
        "name": "gce-cpu",
        "kind": "anomaly",
        "lookback_minutes": 2 * 24 * 60,
        "gcp": [{"project": "proj", "metric_type": CPU_TYPE, "resource_type": "gce_instance"}],
    }
    runtime = make_runtime(data_dir, [sweep])
    runtimes.append(runtime)
    source = CloudMonitoringMetricSource(runtime.settings.gcp, client=gcp.client(), retry=NO_RETRY)

    report = run_sweep("gce-cpu", context=context_for(runtime, gcp=source), now=NOW)

    assert report.status == "ok", report.error
    assert [r.page_token for r in gcp.requests] == ["", "2"]  # three series, two per page
    assert report.series_scanned == 3
    (finding,) = report.findings
    assert finding["resource"]["id"] == "1001"
    assert finding["resource"]["type"] == "gce_instance"
    assert finding["resource"]["region"] == "europe-west1-b"
    assert finding["metric"]["name"] == CPU_TYPE
    assert finding["value"] > 0.85


def test_a_failing_source_is_reported_and_the_others_still_scanned(
    monitor: FakeAzureMonitor,
    gcp: FakeCloudMonitoring,
    test_tls: TestTLS,
    data_dir: Path,
    runtimes: list[Runtime],
) -> None:
    add_gcp(gcp)
    add_azure(monitor)
    monitor.fail_next(503, code="ServiceUnavailable", times=10)
    sweep = azure_sweep(gcp=[{"project": "proj", "metric_type": CPU_TYPE}])
    runtime = azure_runtime(data_dir, monitor, test_tls, sweep)
    runtimes.append(runtime)
    azure = AzureMonitorMetricSource(runtime.settings.azure, credential=FakeCredential(), retry=NO_RETRY)
    source = CloudMonitoringMetricSource(runtime.settings.gcp, client=gcp.client(), retry=NO_RETRY)
    context = context_for(runtime, azure=azure, gcp=source)

    first = run_sweep("web-apps", context=context, now=NOW)
    gcp.fail_next(grpc.StatusCode.UNAVAILABLE, times=5)
    second = run_sweep("web-apps", context=context, now=NOW, trigger="schedule", tick=NOW)

    assert first.status == "degraded"
    by_source = {s.source: s for s in first.sources}
    assert not by_source["azure-monitor"].healthy
    assert "503" in (by_source["azure-monitor"].error or "")
    assert by_source["cloud-monitoring"].healthy and by_source["cloud-monitoring"].series == 3
    assert [f["resource"]["id"] for f in first.findings] == ["1001"]
    # Both down now; the Azure source has failed twice in a row.
    assert second.status == "degraded" and second.series_scanned == 0
    by_source = {s.source: s for s in second.sources}
    assert by_source["azure-monitor"].consecutive_failures >= 2
    assert not by_source["cloud-monitoring"].healthy
