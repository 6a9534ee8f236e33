"""aws.glue.restart_failed_job against moto, with FAILED/TIMEOUT/STOPPED runs injected in front of it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from bot.runbook_kit.loader import load_builtin_runbooks
from bot.runbook_kit.spec import (
    REGISTRY,
    ApprovalMode,
    Outcome,
    ReconcileDecision,
    Risk,
    RunResult,
    VerifyStatus,
)
from bot.runbook_kit.targets import parse_target
from integrations.aws.clients import CloudWatchClient
from integrations.aws.session import AwsError, AwsSession
from integrations.aws.settings import AwsSettings
from runbooks.aws_glue_restart_failed_job import (
    METRIC_NAME,
    RUNBOOK_ID,
    GlueRestartParams,
    plan_restart,
    reconcile_restart,
    restart_failed_job,
    verify_restart,
)
from tests.fakes.glue_failed_runs import GlueMotoServer
from tests.fakes.moto_server import MotoServer
from tests.runbooks.conftest import MakeContext, SettableClock

if TYPE_CHECKING:
    from mypy_boto3_glue.type_defs import JobRunTypeDef

JOB = "nightly-etl"
TARGET = parse_target(f"aws:glue:job/{JOB}")
PARAMS = GlueRestartParams()
ARGS = {"--day": "2026-11-23", "--mode": "full"}


@pytest.fixture
def job(glue_moto: GlueMotoServer) -> str:
    boto3.client("glue").create_job(
        Name=JOB,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/etl.py"},
    )
    return JOB


def moto_runs(moto: MotoServer) -> list[JobRunTypeDef]:
    """The runs moto itself holds: asked straight from moto, past the injecting middleware."""
    return boto3.client("glue", endpoint_url=moto.url).get_job_runs(JobName=JOB)["JobRuns"]


def metric_sum(clock: SettableClock) -> float:
    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="CloudConductor",
        MetricName=METRIC_NAME,
        Dimensions=[{"Name": "JobName", "Value": JOB}],
        StartTime=clock.now - timedelta(minutes=5),
        EndTime=clock.now + timedelta(minutes=5),
        Period=60,
        Statistics=["Sum"],
    )
    return sum(p["Sum"] for p in stats["Datapoints"])


def test_registered_with_its_policy() -> None:
    load_builtin_runbooks()
    spec = REGISTRY.get(RUNBOOK_ID)
    assert spec is not None
    assert spec.act is restart_failed_job
    assert (spec.risk, spec.approval.mode, spec.target_kind) == (Risk.LOW, ApprovalMode.NEVER, "aws:glue:job")
    assert spec.budget is not None
    assert (spec.budget.max_runs, spec.budget.window) == (1, timedelta(hours=6))
    assert spec.reconcile is reconcile_restart
    assert not spec.idempotent
    assert spec.summary.startswith("Restart a Glue job whose latest run FAILED")


def test_plan_shows_latest_failed_run_and_reused_arguments_and_changes_nothing(
    moto: MotoServer, glue_moto: GlueMotoServer, job: str, make_ctx: MakeContext, clock: SettableClock
) -> None:
    failed = glue_moto.add_run(JOB, state="FAILED", arguments=ARGS)

    plan = plan_restart(make_ctx(), TARGET, PARAMS)

    assert plan.verdict == "act"
    assert plan.findings["latest_run"]["id"] == failed.id
    assert plan.findings["latest_run"]["state"] == "FAILED"
    assert plan.findings["latest_run"]["arguments"] == ARGS
    start, metric = plan.calls
    assert (start.system, start.operation) == ("aws.glue", "StartJobRun")
    assert start.params == {"JobName": JOB, "Arguments": ARGS}
    assert (start.before, start.after) == ("FAILED", "STARTING")
    assert (metric.operation, metric.params["MetricName"], metric.params["Namespace"]) == (
        "PutMetricData",
        "JobRemediation",
        "CloudConductor",
    )
    # A dry run is read-only: no run started, no metric put.
    assert glue_moto.calls("StartJobRun") == []
    assert moto_runs(moto) == []
    assert metric_sum(clock) == 0


@pytest.mark.parametrize("state", ["FAILED", "TIMEOUT", "STOPPED"])
def test_restarts_with_previous_arguments_puts_metric_and_verifies(
    moto: MotoServer,
    glue_moto: GlueMotoServer,
    job: str,
    make_ctx: MakeContext,
    clock: SettableClock,
    state: str,
) -> None:
    failed = glue_moto.add_run(JOB, state=state, arguments=ARGS)
    ctx = make_ctx()

    result = restart_failed_job(ctx, TARGET, PARAMS)

    assert result.outcome is Outcome.CHANGED
    assert result.details["previous_run_id"] == failed.id
    assert result.details["previous_state"] == state
    assert result.details["metric"] == METRIC_NAME
    # The exact wire call, and moto's state.
    (call,) = glue_moto.calls("StartJobRun")
    assert call.body == {"JobName": JOB, "Arguments": ARGS}
    (new_run,) = moto_runs(moto)
    assert new_run["Id"] == result.details["run_id"]
    assert new_run["Arguments"] == ARGS
    assert metric_sum(clock) == 1
    assert verify_restart(ctx, TARGET, PARAMS, result) is VerifyStatus.SUCCEEDED
    # The new run is now the latest: running the runbook again does nothing.
    assert plan_restart(ctx, TARGET, PARAMS).verdict == "latest_not_failed"


def test_metric_also_visible_through_get_metric_data(
    glue_moto: GlueMotoServer, job: str, make_ctx: MakeContext, clock: SettableClock
) -> None:
    glue_moto.add_run(JOB, state="FAILED", arguments=ARGS)
    restart_failed_job(make_ctx(), TARGET, PARAMS)

    data = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "remediations",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "CloudConductor",
                        "MetricName": METRIC_NAME,
                        "Dimensions": [{"Name": "JobName", "Value": JOB}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=clock.now - timedelta(minutes=5),
        EndTime=clock.now + timedelta(minutes=5),
    )
    assert sum(data["MetricDataResults"][0]["Values"]) == 1


@pytest.mark.parametrize(
    ("runs", "verdict"),
    [
        pytest.param([], "no_runs", id="no-runs"),
        pytest.param([("SUCCEEDED", 2)], "latest_not_failed", id="latest-succeeded"),
        pytest.param([("FAILED", 3), ("SUCCEEDED", 1)], "latest_not_failed", id="failed-then-succeeded"),
        pytest.param([("ERROR", 1)], "latest_not_failed", id="latest-error-not-in-scope"),
        pytest.param([("RUNNING", 1)], "run_in_progress", id="latest-running"),
        pytest.param([("STARTING", 1)], "run_in_progress", id="latest-starting"),
        pytest.param(
            [("RUNNING", 3), ("FAILED", 1)], "run_in_progress", id="failed-while-older-still-running"
        ),
        pytest.param([("FAILED", 2), ("WAITING", 1)], "run_in_progress", id="newer-waiting"),
    ],
)
def test_only_restarts_when_latest_failed_and_none_running(
    glue_moto: GlueMotoServer,
    job: str,
    make_ctx: MakeContext,
    clock: SettableClock,
    runs: list[tuple[str, int]],
    verdict: str,
) -> None:
    for state, hours_ago in runs:
        glue_moto.add_run(JOB, state=state, arguments=ARGS, started_on=clock.now - timedelta(hours=hours_ago))
    ctx = make_ctx()

    plan = plan_restart(ctx, TARGET, PARAMS)
    result = restart_failed_job(ctx, TARGET, PARAMS)

    assert (plan.verdict, plan.calls) == (verdict, [])
    assert (result.outcome, result.reason) == (Outcome.NOOP, verdict)
    assert glue_moto.calls("StartJobRun") == []
    assert metric_sum(clock) == 0


def test_a_real_moto_run_in_progress_blocks_the_restart(
    glue_moto: GlueMotoServer, job: str, make_ctx: MakeContext
) -> None:
    glue_moto.add_run(JOB, state="FAILED", arguments=ARGS)
    glue_moto.set_run_transition(progression="manual", times=100)  # moto's run stays STARTING
    boto3.client("glue").start_job_run(JobName=JOB)

    assert plan_restart(make_ctx(), TARGET, PARAMS).verdict == "run_in_progress"


def test_verify_is_pending_until_the_new_run_succeeds(
    glue_moto: GlueMotoServer, job: str, make_ctx: MakeContext
) -> None:
    glue_moto.add_run(JOB, state="FAILED", arguments=ARGS)
    glue_moto.set_run_transition(progression="manual", times=1)  # one step per describe
    ctx = make_ctx()
    result = restart_failed_job(ctx, TARGET, PARAMS)

    statuses = [verify_restart(ctx, TARGET, PARAMS, result) for _ in range(3)]

    assert statuses == [VerifyStatus.PENDING, VerifyStatus.SUCCEEDED, VerifyStatus.SUCCEEDED]


def test_verify_fails_when_the_new_run_ends_badly(
    glue_moto: GlueMotoServer, job: str, make_ctx: MakeContext
) -> None:
    restarted = glue_moto.add_run(JOB, state="TIMEOUT", started_on=make_ctx().clock())
    result = RunResult.changed("started run", run_id=restarted.id)

    assert verify_restart(make_ctx(), TARGET, PARAMS, result) is VerifyStatus.FAILED


class SimulatedCrash(BaseException):
    """The process dies: not an error any handler in the runbook may catch."""


class CrashingCloudWatch(CloudWatchClient):
    def put_remediation_metric(self, *args: Any, **kwargs: Any) -> None:
        raise SimulatedCrash


def test_reconcile_after_crash_between_start_and_storing_the_result_is_already_applied(
    glue_moto: GlueMotoServer,
    job: str,
    make_ctx: MakeContext,
    clock: SettableClock,
    aws_settings: AwsSettings,
) -> None:
    glue_moto.add_run(JOB, state="FAILED", arguments=ARGS)
    ctx = make_ctx(
        run_id="run-crashed", replace={CloudWatchClient: CrashingCloudWatch(AwsSession(aws_settings))}
    )
    started_at = clock()

    with pytest.raises(SimulatedCrash):
        restart_failed_job(ctx, TARGET, PARAMS)  # StartJobRun went out; no result was stored

    after_restart = make_ctx(run_id="run-crashed")
    assert reconcile_restart(after_restart, TARGET, PARAMS, started_at) is ReconcileDecision.ALREADY_APPLIED
    assert len(glue_moto.calls("StartJobRun")) == 1


def test_reconcile_after_crash_before_start_is_not_applied(
    glue_moto: GlueMotoServer, job: str, make_ctx: MakeContext, clock: SettableClock
) -> None:
    glue_moto.add_run(JOB, state="FAILED", arguments=ARGS)
    clock.advance(timedelta(minutes=1))  # the interrupted run began after the failure

    assert reconcile_restart(make_ctx(), TARGET, PARAMS, clock()) is ReconcileDecision.NOT_APPLIED


def test_metric_failure_does_not_turn_the_restart_into_a_failure(
    moto: MotoServer, glue_moto: GlueMotoServer, job: str, make_ctx: MakeContext
) -> None:
    glue_moto.add_run(JOB, state="FAILED", arguments=ARGS)
    unreachable = AwsSettings(endpoint_url="http://127.0.0.1:9", max_attempts=1, connect_timeout=1)
    ctx = make_ctx(replace={CloudWatchClient: CloudWatchClient(AwsSession(unreachable))})

    result = restart_failed_job(ctx, TARGET, PARAMS)

    assert result.outcome is Outcome.CHANGED
    assert "PutMetricData" in result.details["metric_error"]
    assert len(moto_runs(moto)) == 1


def test_unknown_job_is_a_non_retryable_integration_error(
    glue_moto: GlueMotoServer, make_ctx: MakeContext
) -> None:
    with pytest.raises(AwsError) as info:
        plan_restart(make_ctx(), parse_target("aws:glue:job/missing"), PARAMS)
    assert (info.value.code, info.value.retryable, info.value.system) == (
        "EntityNotFoundException",
        False,
        "aws.glue",
    )
