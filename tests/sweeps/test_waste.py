"""The waste report on moto (EC2 CPUUtilization) and the Azure Monitor fake (App Service plan
CpuPercentage): idle resources are listed with their evidence, stored, and posted to Slack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tenacity import wait_none

from bot.runtime import Runtime
from bot.store.models import RawEvent, SweepRun
from bot.sweeps.runner import run_sweep
from integrations.azure.monitor_metrics import AzureMonitorMetricSource
from integrations.metrics import RetryPolicy
from tests.fakes.azure_monitor import FakeAzureMonitor, FakeCredential
from tests.fakes.moto_server import MotoServer
from tests.fakes.slack import FakeSlack
from tests.fakes.tls import TestTLS
from tests.sweeps.conftest import NOW, context_for, cpu_values, make_runtime, put_series, stamps

HOUR = timedelta(hours=1)
WEEK = 7 * 24
PLAN = "/subscriptions/sub-1/resourceGroups/rg-web/providers/Microsoft.Web/serverfarms/plan-idle"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    fake = FakeSlack()
    fake.start()
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.bot_token)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    yield fake
    fake.stop()


def flat(n: int, *, seed: int, base: float) -> list[float]:
    return [max(0.0, v) for v in cpu_values(n, seed=seed, base=base, amplitude=1.0)]


def put_instance(instance: str, values: list[float]) -> None:
    points = list(zip(stamps(len(values), step=HOUR), values, strict=True))
    put_series("AWS/EC2", "CPUUtilization", {"InstanceId": instance}, points)


def test_idle_instances_are_reported_with_evidence_and_posted_to_slack(
    moto: MotoServer, slack: FakeSlack, data_dir: Path, runtimes: list[Runtime]
) -> None:
    put_instance("i-idle", flat(WEEK, seed=1, base=6.0))
    put_instance("i-quiet", flat(WEEK, seed=2, base=12.0))
    put_instance("i-busy", flat(WEEK, seed=3, base=60.0))
    put_instance("i-new", flat(20, seed=4, base=2.0))  # under a day of data: not judged
    sweep = {"name": "waste", "kind": "waste", "schedule": {"cron": "0 8 * * 1"}}
    runtime = make_runtime(data_dir, [sweep], slack={"default_channel": "C0FINOPS"})
    runtimes.append(runtime)

    report = run_sweep("waste", context=context_for(runtime), now=NOW)

    assert report.status == "ok", report.error
    assert report.series_scanned == 4
    assert [f["resource"]["id"] for f in report.findings] == ["i-idle", "i-quiet"]  # lowest average first
    idle = report.findings[0]
    assert idle["resource"]["type"] == "ec2:instance"
    assert idle["metric"] == {
        "namespace": "AWS/EC2",
        "name": "CPUUtilization",
        "dimensions": {"InstanceId": "i-idle"},
        "statistic": "Average",
        "threshold": None,
        "value": None,
        "unit": None,
    }
    assert 5 < idle["average"] < 7 < idle["peak"]
    assert idle["points"] == WEEK and idle["coverage"] == 1.0
    assert len(idle["daily"]) in (7, 8) and all(d["average"] < 20 for d in idle["daily"])
    assert report.details["insufficient_data_count"] == 1
    assert report.details["slack"]["posted"] is True

    (message,) = slack.messages("C0FINOPS")
    assert "2 of 4 resources averaged under 20% CPU" in message.text
    texts = " ".join(message.block_texts())
    assert "i-idle" in texts and "i-quiet" in texts and "i-busy" not in texts
    with runtime.store.sessions() as session:
        run = session.scalars(select(SweepRun)).one()
        assert run.findings_count == 2
        assert [f["resource"]["id"] for f in run.findings] == ["i-idle", "i-quiet"]
        assert session.scalars(select(RawEvent)).all() == []  # a report, not alerts


def test_azure_plan_and_custom_threshold_without_slack(
    moto: MotoServer,
    test_tls: TestTLS,
    data_dir: Path,
    runtimes: list[Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    put_instance("i-mid", flat(WEEK, seed=5, base=25.0))
    sweep = {
        "name": "waste",
        "kind": "waste",
        "cpu_threshold": 30,
        "window_days": 3,
        "cloudwatch": [
            {"namespace": "AWS/EC2", "metric": "CPUUtilization", "dimension_names": ["InstanceId"]}
        ],
        "azure": [{"resource_uri": PLAN, "metrics": ["CpuPercentage"]}],
    }
    with FakeAzureMonitor(tls=test_tls.server_context) as monitor:
        points = list(zip(stamps(72, step=HOUR), flat(72, seed=6, base=9.0), strict=True))
        monitor.metrics.add(PLAN, "CpuPercentage", points)
        runtime = make_runtime(
            data_dir, [sweep], azure={"arm_endpoint": monitor.url, "ca_bundle": str(test_tls.ca_path)}
        )
        runtimes.append(runtime)
        azure = AzureMonitorMetricSource(
            runtime.settings.azure,
            credential=FakeCredential(),
            retry=RetryPolicy(attempts=1, wait=wait_none(), sleep=lambda _s: None),
        )
        report = run_sweep("waste", context=context_for(runtime, azure=azure), now=NOW)

    assert report.status == "ok", report.error
    assert [(f["resource"]["type"], f["resource"]["name"]) for f in report.findings] == [
        ("web:serverfarm", "plan-idle"),
        ("ec2:instance", "i-mid"),
    ]
    assert report.findings[1]["points"] == 72  # only the 3-day window is read
    assert report.details["slack"] == {"posted": False, "reason": "Slack is off: $SLACK_BOT_TOKEN is not set"}


def test_slack_failure_degrades_the_run_but_keeps_the_report(
    moto: MotoServer, slack: FakeSlack, data_dir: Path, runtimes: list[Runtime]
) -> None:
    put_instance("i-idle", flat(WEEK, seed=1, base=6.0))
    slack.fail("chat.postMessage", "channel_not_found")
    runtime = make_runtime(data_dir, [{"name": "waste", "kind": "waste", "slack_channel": "C0GONE"}])
    runtimes.append(runtime)

    report = run_sweep("waste", context=context_for(runtime), now=NOW)

    assert report.status == "degraded"
    assert "channel_not_found" in report.error
    assert len(report.findings) == 1
