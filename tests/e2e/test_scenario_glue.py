"""Scenario 2: a failed Glue job is restarted automatically, verified and resolved; a second failure
within the budget window is not restarted again — it pages PagerDuty instead."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from bot.store.models import Incident, RunbookRun
from tests.e2e.world import World, post

pytestmark = pytest.mark.e2e

JOB = "nightly-etl"
RULE = {
    "name": "restart failed Glue jobs",
    "match": [{"name": "source", "value": "eventbridge"}, {"name": "resource_type", "value": "glue:job"}],
    "runbook": "aws.glue.restart_failed_job",
    "target": "aws:glue:job/{resource.id}",
}


def glue_failed_event(job: str, run_id: str) -> dict[str, Any]:
    """EventBridge "Glue Job State Change" FAILED, as AWS documents it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "jobName": job,
            "severity": "ERROR",
            "state": "FAILED",
            "jobRunId": run_id,
            "message": f"JobName:{job} and JobRunId:{run_id} failed to execute with exception OutOfMemory",
        },
    }


def test_failed_glue_job_is_restarted_verified_and_a_second_failure_pages(world: World) -> None:
    boto3.client("glue").create_job(
        Name=JOB,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://etl/job.py"},
    )
    world.aws.add_run(
        JOB,
        state="FAILED",
        arguments={"--day": "2026-11-22"},
        started_on=datetime.now(UTC) - timedelta(minutes=20),
    )
    server = world.start_server(rules=[RULE])

    assert post(server, "/webhooks/eventbridge", glue_failed_event(JOB, "jr_first")).status_code == 202
    run = world.wait_for(
        lambda: next(iter(world.rows(RunbookRun, RunbookRun.status == "succeeded")), None),
        what="the restart run to succeed",
    )
    assert run.runbook_id == "aws.glue.restart_failed_job" and run.target == f"aws:glue:job/{JOB}"
    assert run.requested_by == "rule:restart failed Glue jobs"
    starts = world.aws.calls("StartJobRun")
    assert len(starts) == 1
    metrics = boto3.client("cloudwatch").list_metrics(Namespace="CloudConductor", MetricName="JobRemediation")
    assert [m["Dimensions"] for m in metrics["Metrics"]] == [[{"Name": "JobName", "Value": JOB}]]
    [incident] = world.rows(Incident)
    assert incident.status == "resolved" and incident.resolved_by == f"run:{run.id}"
    assert incident.decision == "auto_run"

    # The job fails again within the budget window (1 run per 6 h): no second restart, a page instead.
    world.aws.add_run(JOB, state="FAILED", arguments={"--day": "2026-11-22"}, started_on=datetime.now(UTC))
    assert post(server, "/webhooks/eventbridge", glue_failed_event(JOB, "jr_second")).status_code == 202
    world.wait_for(
        lambda: any(e.get("event_action") == "trigger" for e in world.pagerduty.events),
        what="a PagerDuty page",
    )
    [page] = [e for e in world.pagerduty.events if e.get("event_action") == "trigger"]
    assert page["dedup_key"] == f"conductor-incident-{incident.id}"
    assert "budget_exhausted" in page["payload"]["summary"]
    assert len(world.aws.calls("StartJobRun")) == 1
    runs = world.rows(RunbookRun)
    assert [r.status for r in runs] == ["succeeded", "rejected"]
    assert runs[1].reason.startswith("budget_exhausted")
    [incident] = world.rows(Incident)
    assert incident.status == "open" and incident.reopened_count == 1
