"""Scenario 4 (CPU > 85% -> scale out) and the approval paths around it: an expired approval pages;
a kill -9 between approval and execution runs the action exactly once after restart."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import boto3
import pytest

from bot.store.models import Approval, AuditRecord, Incident, RunbookRun
from tests.e2e.world import TOPIC, World, post
from tests.scenario_data import cloudwatch_alarm_message, now_utc, put_history
from tests.sns_signing import notification

pytestmark = pytest.mark.e2e

DIMS = {"ClusterName": "prod", "ServiceName": "checkout"}
RULE: dict[str, Any] = {
    "name": "scale out busy ECS services",
    "match": [{"name": "resource_type", "value": "ecs:service"}],
    # no min_anomaly_score: the rule uses the [detector] threshold, as in the README
    "runbook": "aws.ecs.scale_service",
    "target": "aws:ecs:service/{resource.id}",
    "params": {"step": 2, "max": 6},
}
APPROVALS: dict[str, Any] = {"approvers": {"aws.ecs.scale_service": {"users": ["bob"]}}}
CLI_AS = {"cli": {"act_as": True}}  # `conductor approvals approve --as bob`


def ecs_service(desired: int = 2) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="checkout", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 256}]
    )
    ecs.create_service(
        cluster="prod", serviceName="checkout", taskDefinition="checkout", desiredCount=desired
    )


def desired_count() -> int:
    return int(
        boto3.client("ecs").describe_services(cluster="prod", services=["checkout"])["services"][0][
            "desiredCount"
        ]
    )


def send_alarm(world: World, server: Any, state: str = "ALARM") -> None:
    alarm = cloudwatch_alarm_message(
        name="checkout-cpu-high",
        state=state,
        namespace="AWS/ECS",
        metric="CPUUtilization",
        dimensions=DIMS,
        at=now_utc(),
    )
    envelope = notification(alarm, topic=TOPIC, key=world.sns_key)
    response = post(
        server,
        "/webhooks/cloudwatch",
        json.dumps(envelope).encode(),
        **{"content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"},
    )
    assert response.status_code == 202, response.text


def test_cpu_anomaly_scales_out_then_ineffective_rolls_back_and_escalates(world: World) -> None:
    ecs_service(2)
    # more than a day of history: a value beyond the range only counts once a day has defined it
    put_history("AWS/ECS", "CPUUtilization", DIMS, end=now_utc(), points=400)
    server = world.start_server(
        rules=[RULE], runbooks={"verify_timeout_minutes": 0.1, "verify_poll_seconds": 1.0}
    )
    send_alarm(world, server)
    run = world.wait_for(
        lambda: next(iter(world.rows(RunbookRun, RunbookRun.status == "ineffective")), None),
        what="the scale-out to be judged ineffective",
    )
    world.wait_for(lambda: world.rows(RunbookRun)[0].result.get("rolled_back"), what="the rollback")
    assert run.plan["calls"][0]["before"] == 2 and run.plan["calls"][0]["after"] == 4
    assert desired_count() == 2  # 2 -> 4, then restored
    [incident] = world.rows(Incident)
    assert (
        incident.decision == "auto_run"
        and incident.anomaly_score is not None
        and incident.anomaly_threshold is not None
        and incident.anomaly_score >= incident.anomaly_threshold
    )
    world.wait_for(
        lambda: any(e.get("event_action") == "trigger" for e in world.pagerduty.events),
        what="the escalation page",
    )
    [page] = [e for e in world.pagerduty.events if e.get("event_action") == "trigger"]
    assert "ineffective" in page["payload"]["summary"]


def test_expired_approval_marks_the_run_expired_and_pages(world: World) -> None:
    ecs_service(2)
    put_history("AWS/ECS", "CPUUtilization", DIMS, end=now_utc(), points=400)
    server = world.start_server(
        rules=[{**RULE, "approval": "always"}], approvals={**APPROVALS, "expiry_minutes": 0.05}
    )
    send_alarm(world, server)
    world.wait_for(
        lambda: world.rows(RunbookRun, RunbookRun.status == "expired"), what="the approval to expire"
    )
    [approval] = world.rows(Approval)
    assert approval.status == "expired"
    world.wait_for(
        lambda: any(e.get("event_action") == "trigger" for e in world.pagerduty.events),
        what="the expiry page",
    )
    assert desired_count() == 2


def test_kill_9_between_approval_and_execution_runs_the_action_exactly_once(world: World) -> None:
    ecs_service(2)
    put_history("AWS/ECS", "CPUUtilization", DIMS, end=now_utc(), points=400)
    server = world.start_server(
        rules=[{**RULE, "approval": "always"}], approvals=APPROVALS, permissions=CLI_AS
    )
    send_alarm(world, server)
    [run] = world.wait_for(
        lambda: world.rows(RunbookRun, RunbookRun.status == "awaiting_approval"),
        what="a run awaiting approval",
    )
    [approval] = world.rows(Approval)
    server.kill()
    # Approved while the server is dead: the decision and the execute job commit together.
    approve = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "approvals",
            "approve",
            str(approval.id),
            "--as",
            "bob",
            "--config",
            str(server.config),
        ],
        capture_output=True,
        text=True,
        env={**world.env(), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert approve.returncode == 0, approve.stderr
    assert world.rows(RunbookRun)[0].status == "approved"
    assert desired_count() == 2  # nothing ran while the server was down
    world.start_server(rules=[{**RULE, "approval": "always"}], approvals=APPROVALS, permissions=CLI_AS)
    world.wait_for(lambda: world.rows(RunbookRun)[0].acted_at is not None, what="the approved run to act")
    # the step is relative (+2): a second execution would have made it 6
    assert desired_count() == 4
    started = world.rows(
        AuditRecord, AuditRecord.subject == f"run:{run.id}", AuditRecord.action == "run.running"
    )
    assert len(started) == 1
    assert len(world.rows(RunbookRun)) == 1
