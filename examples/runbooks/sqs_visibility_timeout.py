"""An example user runbook: raise an SQS queue's visibility timeout (`acme.sqs.raise_visibility_timeout`).

When consumers take longer than the queue's visibility timeout, messages reappear and are processed
twice; raising the timeout stops that while someone fixes the slow consumer. Load it with

    [runbooks]
    directories = ["examples/runbooks"]

and test it with `conductor runbooks test examples/runbooks/sqs_visibility_timeout.py`
(its tests are `test_sqs_visibility_timeout.py`, beside it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
from integrations.aws.session import AwsSession, aws_errors

SQS_MAX_VISIBILITY = 43_200  # 12 hours: SQS refuses more


class VisibilityParams(BaseModel):
    """The timeout to set, in seconds."""

    model_config = ConfigDict(extra="forbid")

    seconds: int = Field(300, ge=0, le=SQS_MAX_VISIBILITY, description="New visibility timeout (s).")


def _sqs(ctx: RunContext) -> Any:
    # AwsSession gives boto3 clients with the configured region, endpoint, timeouts and retries.
    return ctx.services.get(AwsSession).client("sqs")


def _queue_url(ctx: RunContext, target: Target) -> str:
    with aws_errors("aws.sqs", "GetQueueUrl"):
        return str(_sqs(ctx).get_queue_url(QueueName=target.part("name"))["QueueUrl"])


def _current(ctx: RunContext, url: str) -> int:
    with aws_errors("aws.sqs", "GetQueueAttributes"):
        reply = _sqs(ctx).get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    return int(reply["Attributes"]["VisibilityTimeout"])


def _set(ctx: RunContext, url: str, seconds: int) -> None:
    with aws_errors("aws.sqs", "SetQueueAttributes"):
        _sqs(ctx).set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})


def plan_visibility(ctx: RunContext, target: Target, params: VisibilityParams) -> Plan:
    """Read-only: the current timeout; nothing to do when it is already at least `seconds`."""
    url = _queue_url(ctx, target)
    before = _current(ctx, url)
    if before >= params.seconds:
        return Plan(summary=f"already {before} s (>= {params.seconds} s)", verdict="already_enough")
    call = PlannedCall(
        system="aws.sqs",
        operation="SetQueueAttributes",
        params={"queue": target.part("name"), "attribute": "VisibilityTimeout"},
        before=before,
        after=params.seconds,
        description=f"raise the visibility timeout of {target.part('name')} to {params.seconds} s",
    )
    return Plan(summary=f"visibility timeout {before} s -> {params.seconds} s", calls=[call])


def verify_visibility(
    ctx: RunContext, target: Target, params: VisibilityParams, result: RunResult
) -> VerifyStatus:
    """The queue reports the new timeout."""
    current = _current(ctx, _queue_url(ctx, target))
    return VerifyStatus.SUCCEEDED if current == params.seconds else VerifyStatus.FAILED


def rollback_visibility(
    ctx: RunContext, target: Target, params: VisibilityParams, result: RunResult
) -> RunResult:
    """Put back the timeout the queue had before the run."""
    before = int(result.rollback_state["before"])
    _set(ctx, _queue_url(ctx, target), before)
    return RunResult.changed(f"visibility timeout restored to {before} s", seconds=before)


def reconcile_visibility(
    ctx: RunContext, target: Target, params: VisibilityParams, started_at: datetime
) -> ReconcileDecision:
    """After a crash: the timeout is what we set (done) or still lower (safe to run again)."""
    current = _current(ctx, _queue_url(ctx, target))
    return ReconcileDecision.ALREADY_APPLIED if current == params.seconds else ReconcileDecision.NOT_APPLIED


@runbook(
    id="acme.sqs.raise_visibility_timeout",
    title="Raise an SQS queue's visibility timeout",
    risk=Risk.MEDIUM,
    params=VisibilityParams,
    target_kind="aws:sqs:queue",
    plan=plan_visibility,
    verify=verify_visibility,
    rollback=rollback_visibility,
    reconcile=reconcile_visibility,
    timeout=timedelta(minutes=2),
    cooldown=timedelta(minutes=30),
    budget=Budget(max_runs=2, window=timedelta(hours=6)),
    approval=ApprovalPolicy.when_risk_at_least(Risk.HIGH),
    resolves_incident=False,
)
def raise_visibility_timeout(ctx: RunContext, target: Target, params: VisibilityParams) -> RunResult:
    """Raise an SQS queue's visibility timeout so slow consumers stop seeing messages twice.

    Never lowers it: a queue already at or above `seconds` is left alone. Rollback restores
    the previous value. Params: seconds (default 300, at most 43200).
    """
    url = _queue_url(ctx, target)
    before = _current(ctx, url)
    if before >= params.seconds:
        return RunResult.noop(f"already {before} s")
    _set(ctx, url, params.seconds)
    return RunResult(
        outcome=Outcome.CHANGED,
        reason=f"visibility timeout {before} s -> {params.seconds} s",
        details={"before": before, "after": params.seconds},
        rollback_state={"before": before},
    )
