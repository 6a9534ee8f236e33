"""Alarm in, action out, in one process: CloudWatch alarm -> detector on the metric's history in moto
-> rule -> ECS scale-out on moto -> the alarm keeps firing -> ineffective -> rolled back -> escalated."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.engine.gate import GateReason
from bot.http.app import create_app
from bot.pipeline.decide import DecisionCode
from bot.runtime import Runtime
from bot.store.models import AuditRecord, Incident, Job, RunbookRun
from tests.fakes.moto_server import MotoServer
from tests.http.conftest import make_runtime
from tests.scenario_data import as_bytes, cloudwatch_alarm_message, now_utc, put_history

DIMS = {"ClusterName": "prod", "ServiceName": "checkout"}


def ecs_service(desired: int = 2) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="checkout", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 256}]
    )
    ecs.create_service(
        cluster="prod", serviceName="checkout", taskDefinition="checkout", desiredCount=desired
    )


def decided_codes(runtime: Runtime) -> tuple[str, str | None]:
    """The pipeline's decision code and the gate's, as the incident.decided audit record has them."""
    with runtime.store.sessions() as session:
        record = session.scalars(select(AuditRecord).where(AuditRecord.action == "incident.decided")).one()
    return record.details["code"], record.details["gate_code"]


def desired_count() -> int:
    service = boto3.client("ecs").describe_services(cluster="prod", services=["checkout"])["services"][0]
    return int(service["desiredCount"])


RULE = {
    "name": "scale out busy ECS services",
    "match": [
        {"name": "resource_type", "value": "ecs:service"},
        {"name": "name", "value": "checkout-cpu-high"},
    ],
    "min_anomaly_score": 0.9,
    "runbook": "aws.ecs.scale_service",
    "target": "aws:ecs:service/{resource.id}",
    "params": {"step": 2, "max": 6},
}


@pytest.fixture
def runtime(moto: MotoServer, data_dir: Path) -> Iterator[Runtime]:
    rt = make_runtime(
        data_dir,
        rules=[RULE],
        runbooks={"verify_timeout_minutes": 0.02, "verify_poll_seconds": 0.2},
        workers={"threads": 2, "poll_interval_seconds": 0.05},
    )
    yield rt
    rt.store.dispose()


def wait_until(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def post_alarm(client: TestClient, state: str) -> None:
    message = cloudwatch_alarm_message(
        name="checkout-cpu-high",
        state=state,
        namespace="AWS/ECS",
        metric="CPUUtilization",
        dimensions=DIMS,
        at=now_utc(),
    )
    response = client.post(
        "/webhooks/cloudwatch", content=as_bytes(message), headers={"content-type": "application/json"}
    )
    assert response.status_code == 202, response.text


def test_anomalous_cpu_scales_out_then_rolls_back_when_the_alarm_keeps_firing(runtime: Runtime) -> None:
    ecs_service(2)
    # more than a day of history: a value beyond the range only counts once a day has defined it
    put_history("AWS/ECS", "CPUUtilization", DIMS, end=now_utc(), points=400)
    with TestClient(create_app(runtime)) as client:
        post_alarm(client, "ALARM")

        def run_done() -> RunbookRun | None:
            with runtime.store.sessions() as session:
                run = session.scalars(select(RunbookRun)).first()
                return (
                    run
                    if run is not None and run.status == "ineffective" and run.result.get("rolled_back")
                    else None
                )

        run = wait_until(run_done)
    assert run.params == {"step": 2, "max": 6}
    assert run.plan["calls"][0]["before"] == 2 and run.plan["calls"][0]["after"] == 4
    assert desired_count() == 2  # scaled to 4, then rolled back to 2
    with runtime.store.sessions() as session:
        incident = session.scalars(select(Incident)).one()
        escalations = session.scalars(select(Job).where(Job.kind == "escalate")).all()
    assert incident.anomaly_status == "ok" and incident.anomaly_score is not None
    assert incident.anomaly_score >= 0.9 and incident.explanation
    assert incident.decision == "auto_run"
    assert decided_codes(runtime) == (DecisionCode.RUNS_AUTOMATICALLY, GateReason.ANOMALOUS_RUNS)
    assert incident.decision_reason.startswith("aws.ecs.scale_service runs automatically")
    assert len(incident.evidence["values"]) >= 200
    assert [e.payload["run_id"] for e in escalations] == [run.id]


def test_normal_metric_takes_no_action_and_says_why(runtime: Runtime) -> None:
    ecs_service(2)
    put_history("AWS/ECS", "CPUUtilization", DIMS, end=now_utc(), spike=None)
    with TestClient(create_app(runtime)) as client:
        post_alarm(client, "ALARM")

        def decided() -> Incident | None:
            with runtime.store.sessions() as session:
                incident = session.scalars(select(Incident)).first()
                return incident if incident is not None and incident.decision else None

        incident = wait_until(decided)
    assert incident.decision == "no_action"
    assert decided_codes(runtime) == (DecisionCode.GATE_SAID_NO, GateReason.BELOW_ANOMALY_THRESHOLD)
    assert desired_count() == 2
    with runtime.store.sessions() as session:
        assert session.scalars(select(RunbookRun)).all() == []
