"""aws.glue.restart_failed_job: start a new run of a Glue job whose latest run failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import ConductorError
from bot.runbook_kit.spec import (
    ApprovalPolicy,
    Budget,
    Outcome,
    Plan,
    PlannedCall,
    ReconcileDecision,
    Risk,
    RunContext,
    RunResult,
    VerifyStatus,
    runbook,
)
from bot.runbook_kit.targets import Target
from integrations.aws.clients import (
    GLUE_FAILED_STATES,
    CloudWatchClient,
    GlueClient,
    GlueJobRun,
)

RUNBOOK_ID = "aws.glue.restart_failed_job"
METRIC_NAME = "JobRemediation"
# Glue's StartedOn comes from AWS's clock and `started_at` from ours; both are NTP-synced, this
# absorbs the rest (and the millisecond rounding of StartedOn).
CLOCK_SKEW = timedelta(seconds=5)

# Plan verdicts / no-op reasons.
NO_RUNS = "no_runs"
RUN_IN_PROGRESS = "run_in_progress"
LATEST_NOT_FAILED = "latest_not_failed"


class GlueRestartParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lookback: int = Field(10, ge=1, le=200, description="How many recent runs to read (newest first).")


def _run_json(run: GlueJobRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "state": run.state,
        "started_on": run.started_on.isoformat() if run.started_on else None,
        "error_message": run.error_message,
        "arguments": dict(run.arguments),
    }


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What the recent runs say: the run to restart (None: nothing to do, `verdict` says why)."""

    restart: GlueJobRun | None
    verdict: str
    summary: str
    findings: dict[str, Any]


def _diagnose(ctx: RunContext, job: str, params: GlueRestartParams) -> Diagnosis:
    runs = ctx.services.get(GlueClient).job_runs(job, max_results=params.lookback)
    running = [r for r in runs if r.is_running]
    findings: dict[str, Any] = {
        "latest_run": _run_json(runs[0]) if runs else None,
        "running_runs": [r.id for r in running],
    }
    if not runs:
        return Diagnosis(None, NO_RUNS, f"Glue job {job} has no runs to restart", findings)
    latest = runs[0]
    if running:
        states = ", ".join(sorted({r.state for r in running}))
        return Diagnosis(
            None, RUN_IN_PROGRESS, f"Glue job {job} already has a run in progress ({states})", findings
        )
    if not latest.is_restartable:
        return Diagnosis(
            None, LATEST_NOT_FAILED, f"latest run of {job} is {latest.state}: nothing to restart", findings
        )
    summary = f"Restart Glue job {job}: run {latest.id} is {latest.state}; start a new run with its arguments"
    return Diagnosis(latest, "act", summary, findings)


def plan_restart(ctx: RunContext, target: Target, params: GlueRestartParams) -> Plan:
    job = target.part("name")
    diagnosis = _diagnose(ctx, job, params)
    latest = diagnosis.restart
    if latest is None:
        return Plan(summary=diagnosis.summary, verdict=diagnosis.verdict, findings=diagnosis.findings)
    namespace = ctx.services.get(CloudWatchClient).namespace
    calls = [
        PlannedCall(
            system="aws.glue",
            operation="StartJobRun",
            params={"JobName": job, "Arguments": dict(latest.arguments)},
            before=latest.state,
            after="STARTING",
            description=f"new run with the arguments of run {latest.id} ({latest.state})",
        ),
        PlannedCall(
            system="aws.cloudwatch",
            operation="PutMetricData",
            params={
                "Namespace": namespace,
                "MetricName": METRIC_NAME,
                "Dimensions": {"JobName": job},
                "Value": 1,
            },
            description=f"count the remediation in {namespace}/{METRIC_NAME}",
        ),
    ]
    return Plan(summary=diagnosis.summary, calls=calls, findings=diagnosis.findings)


def verify_restart(
    ctx: RunContext, target: Target, params: GlueRestartParams, result: RunResult
) -> VerifyStatus:
    """Succeeded when the new run reaches SUCCEEDED; failed when it ends in any other final state."""
    run_id = result.details.get("run_id")
    if result.outcome is not Outcome.CHANGED or not isinstance(run_id, str):
        return VerifyStatus.SUCCEEDED
    run = ctx.services.get(GlueClient).get_job_run(target.part("name"), run_id)
    if run.state == "SUCCEEDED":
        return VerifyStatus.SUCCEEDED
    if run.state in GLUE_FAILED_STATES:
        return VerifyStatus.FAILED
    return VerifyStatus.PENDING


def reconcile_restart(
    ctx: RunContext, target: Target, params: GlueRestartParams, started_at: datetime
) -> ReconcileDecision:
    """A run started at/after the interrupted run began means StartJobRun went through (or someone
    restarted the job meanwhile): either way, do not start another."""
    runs = ctx.services.get(GlueClient).job_runs(target.part("name"), max_results=params.lookback)
    since = started_at - CLOCK_SKEW
    if any(r.started_on is not None and r.started_on >= since for r in runs):
        return ReconcileDecision.ALREADY_APPLIED
    return ReconcileDecision.NOT_APPLIED


@runbook(
    id=RUNBOOK_ID,
    title="Restart a failed Glue job",
    risk=Risk.LOW,
    params=GlueRestartParams,
    target_kind="aws:glue:job",
    plan=plan_restart,
    verify=verify_restart,
    reconcile=reconcile_restart,
    timeout=timedelta(hours=3),
    cooldown=timedelta(minutes=30),
    budget=Budget(max_runs=1, window=timedelta(hours=6)),
    approval=ApprovalPolicy.never(),
    # a new run that reaches SUCCEEDED is the fix: the job's failure alert is over
    resolves_incident=True,
)
def restart_failed_job(ctx: RunContext, target: Target, params: GlueRestartParams) -> RunResult:
    """Restart a Glue job whose latest run FAILED, TIMED OUT or was STOPPED, with the same arguments.

    Reads the job's recent runs (`lookback`, default 10). Acts only if the latest run is FAILED,
    TIMEOUT or STOPPED and no run is STARTING, RUNNING, STOPPING or WAITING; otherwise it is a
    no-op (`no_runs`, `run_in_progress`, `latest_not_failed`). It then starts a new run with the
    failed run's arguments and puts a `JobRemediation` count (dimension JobName) in the
    `[aws] metric_namespace` CloudWatch namespace. The plan shows the latest run's state and the
    arguments it will reuse. Verify waits for the new run to reach SUCCEEDED.

    Risk low, no approval. Budget 1 run per job per 6 h: if the restarted run fails too, a human
    looks; cooldown 30 min. Timeout 3 h (the new run must finish). No rollback (a run cannot be
    undone). Reconcile after a crash: a run started at/after the interrupted attempt means the
    restart already happened.
    """
    job = target.part("name")
    diagnosis = _diagnose(ctx, job, params)
    latest = diagnosis.restart
    if latest is None:
        return RunResult.noop(diagnosis.verdict, message=diagnosis.summary)
    run_id = ctx.services.get(GlueClient).start_job_run(job, arguments=latest.arguments)
    details: dict[str, Any] = {
        "job_name": job,
        "run_id": run_id,
        "previous_run_id": latest.id,
        "previous_state": latest.state,
        "arguments": dict(latest.arguments),
    }
    # The restart happened: a metric failure is reported, not allowed to turn it into a failure.
    try:
        ctx.services.get(CloudWatchClient).put_remediation_metric(
            METRIC_NAME, dimensions={"JobName": job}, timestamp=ctx.clock()
        )
        details["metric"] = METRIC_NAME
    except ConductorError as exc:
        details["metric_error"] = str(exc)
    return RunResult(
        Outcome.CHANGED, f"started run {run_id} after {latest.state} run {latest.id}", details=details
    )
