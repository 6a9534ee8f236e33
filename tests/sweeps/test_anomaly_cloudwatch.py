"""The anomaly sweep on CloudWatch (boto3 against moto): a planted anomaly is found, a normal series is
not, and the anomaly goes through the normal pipeline (raw event of source `sweep` -> alert -> incident)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from bot.store.models import Alert, AuditRecord, Incident, RawEvent, SweepRun
from bot.sweeps.runner import run_sweep
from tests.e2e.server import free_port
from tests.fakes.moto_server import MotoServer
from tests.sweeps.conftest import NOW, context_for, cpu_values, make_runtime, put_series, stamps

POINTS = 576  # two days at 5 minutes: enough history for a cold detector to be sure
SWEEP = {
    "name": "ecs-cpu",
    "kind": "anomaly",
    "schedule": {"interval_minutes": 15},
    "lookback_minutes": 2 * 24 * 60,
    "cloudwatch": [
        {
            "namespace": "AWS/ECS",
            "metric": "CPUUtilization",
            "dimension_names": ["ClusterName", "ServiceName"],
        }
    ],
}
CHECKOUT_KEY = "aws/us-east-1/AWS/ECS/CPUUtilization/ClusterName=prod,ServiceName=checkout/Average"


def plant(services: dict[str, int]) -> None:
    """service -> number of trailing points pushed to ~95% CPU (0: a normal series)."""
    for seed, (service, spike) in enumerate(sorted(services.items())):
        values = cpu_values(POINTS, seed=seed, spike=spike)
        dims = {"ClusterName": "prod", "ServiceName": service}
        put_series("AWS/ECS", "CPUUtilization", dims, list(zip(stamps(POINTS), values, strict=True)))


def test_planted_anomaly_is_found_normal_series_are_not_and_it_becomes_an_incident(
    moto: MotoServer, data_dir: Path, runtimes: list[Runtime]
) -> None:
    plant({"checkout": 10, "search": 0, "cart": 0})
    runtime = make_runtime(data_dir, [SWEEP])
    runtimes.append(runtime)
    context = context_for(runtime)

    report = run_sweep("ecs-cpu", context=context, now=NOW)

    assert report.status == "ok", report.error
    assert report.series_scanned == 3
    assert [s.source for s in report.sources] == ["cloudwatch"]
    assert report.sources[0].healthy and report.sources[0].series == 3
    assert [f["series"] for f in report.findings] == [CHECKOUT_KEY]
    finding = report.findings[0]
    assert finding["resource"]["type"] == "ecs:service"
    assert finding["resource"]["id"] == "prod/checkout"
    assert finding["metric"]["namespace"] == "AWS/ECS"
    assert finding["metric"]["dimensions"] == {"ClusterName": "prod", "ServiceName": "checkout"}
    assert finding["score"] >= finding["threshold"]
    assert finding["value"] > 85
    assert report.details["scored"]["ok"] == 3

    # The anomaly was stored as a raw event of source "sweep", like a webhook delivery...
    with runtime.store.sessions() as session:
        events = session.scalars(select(RawEvent)).all()
        assert [(e.source, e.status) for e in events] == [("sweep", "pending")]
        run = session.scalars(select(SweepRun)).one()
        assert (run.status, run.series_scanned, run.findings_count) == ("ok", 3, 1)
        assert session.scalars(
            select(AuditRecord.action).where(AuditRecord.subject == "sweep:ecs-cpu")
        ).all() == ["sweep.ok"]
    # ...that the normal processor turns into an alert and an incident.
    assert runtime.processor.run_once("test-worker") == 1
    with runtime.store.sessions() as session:
        alert = session.scalars(select(Alert)).one()
        assert (alert.source, alert.fingerprint, alert.status) == ("sweep", f"sweep:{CHECKOUT_KEY}", "firing")
        assert alert.name == "CPUUtilization anomaly"
        assert alert.labels["sweep"] == "ecs-cpu"
        incident = session.scalars(select(Incident)).one()
        assert (incident.status, incident.resource_type, incident.resource_id) == (
            "open",
            "ecs:service",
            "prod/checkout",
        )

    # The next tick finds the same anomaly: same alert, same incident (deduplicated by fingerprint).
    again = run_sweep(
        "ecs-cpu", context=context, now=NOW, trigger="schedule", tick=NOW + timedelta(minutes=15)
    )
    assert [f["series"] for f in again.findings] == [CHECKOUT_KEY]
    runtime.processor.run_once("test-worker")
    with runtime.store.sessions() as session:
        assert len(session.scalars(select(Incident)).all()) == 1
        alert = session.scalars(select(Alert)).one()
        assert alert.deliveries == 2


def test_series_back_to_normal_resolves_its_sweep_alert(
    moto: MotoServer, data_dir: Path, runtimes: list[Runtime]
) -> None:
    plant({"checkout": 10, "search": 0})
    runtime = make_runtime(data_dir, [SWEEP])
    runtimes.append(runtime)
    context = context_for(runtime)
    assert run_sweep("ecs-cpu", context=context, now=NOW).findings
    runtime.processor.run_once("w")

    dims = {"ClusterName": "prod", "ServiceName": "checkout"}
    soon = NOW + timedelta(minutes=45)
    put_series(
        "AWS/ECS", "CPUUtilization", dims, list(zip(stamps(9, end=soon), cpu_values(9, seed=7), strict=True))
    )
    calmer = run_sweep("ecs-cpu", context=context, now=soon, trigger="schedule", tick=soon)
    assert calmer.findings == []
    assert calmer.details["alerts_resolved"] == 0  # calm for 45 minutes: not yet the 60 it takes

    later = NOW + timedelta(hours=3)
    calm = cpu_values(27, seed=8)
    put_series("AWS/ECS", "CPUUtilization", dims, list(zip(stamps(27, end=later), calm, strict=True)))
    report = run_sweep("ecs-cpu", context=context, now=later, trigger="schedule", tick=later)

    assert report.findings == []
    assert report.details["alerts_resolved"] == 1
    runtime.processor.run_once("w")
    with runtime.store.sessions() as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.status == "resolved"


def test_cloudwatch_down_is_reported_unhealthy_not_skipped(
    moto: MotoServer, data_dir: Path, runtimes: list[Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    runtime = make_runtime(data_dir, [SWEEP], aws={"connect_timeout": 0.5, "read_timeout": 0.5})
    runtimes.append(runtime)

    report = run_sweep("ecs-cpu", context=context_for(runtime), now=NOW)

    assert report.status == "degraded"
    assert report.series_scanned == 0
    (source,) = report.sources
    assert source.source == "cloudwatch" and not source.healthy
    assert "ListMetrics" in (source.error or "")
    with runtime.store.sessions() as session:
        run = session.scalars(select(SweepRun)).one()
        assert run.status == "degraded"
        assert run.sources[0]["healthy"] is False
