"""aws.ecs.scale_service: set an ECS service's desired task count, within guards."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from pydantic import Field

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
from integrations.aws.clients import EcsClient, EcsService
from integrations.aws.settings import AwsSettings
from runbooks.aws_scaling import (
    ScaleDecision,
    ScaleParams,
    changed_result,
    decide_scale,
    reconcile_scale,
    rollback_to_previous,
)

RUNBOOK_ID = "aws.ecs.scale_service"


class EcsScaleParams(ScaleParams):
    """Exactly one of `desired_count`, `step` or `factor`; optional `min`/`max` guards."""

    absolute_name: ClassVar[str] = "desired_count"

    desired_count: int | None = Field(None, ge=0, description="Absolute number of tasks.")

    @property
    def absolute(self) -> int | None:
        return self.desired_count


def _decide(ctx: RunContext, target: Target, params: EcsScaleParams) -> tuple[EcsService, ScaleDecision]:
    guards = ctx.services.get(AwsSettings).guards
    service = ctx.services.get(EcsClient).describe_service(target.part("cluster"), target.part("service"))
    decision = decide_scale(
        params,
        current=service.desired_count,
        lo=guards.ecs_min if params.min is None else params.min,
        hi=guards.ecs_max if params.max is None else params.max,
        unit="desiredCount",
    )
    return service, decision


def _update_call(target: Target, before: int, after: int) -> PlannedCall:
    return PlannedCall(
        system="aws.ecs",
        operation="UpdateService",
        params={"cluster": target.part("cluster"), "service": target.part("service"), "desiredCount": after},
        before=before,
        after=after,
        description=f"desiredCount {before} -> {after}",
    )


def plan_scale(ctx: RunContext, target: Target, params: EcsScaleParams) -> Plan:
    service, decision = _decide(ctx, target, params)
    findings = {
        **decision.findings(),
        "request": params.describe(),
        "running_count": service.running_count,
        "pending_count": service.pending_count,
    }
    if not decision.acts:
        return Plan(summary=decision.message, verdict=decision.verdict, findings=findings)
    return Plan(
        summary=f"Scale ECS service {service.name}: {decision.message}",
        calls=[_update_call(target, decision.current, decision.target)],
        findings=findings,
    )


def verify_scale(ctx: RunContext, target: Target, params: EcsScaleParams, result: RunResult) -> VerifyStatus:
    """Succeeded once as many tasks run as were asked for; failed if the count was changed since."""
    wanted = result.details.get("desired_count")
    if result.outcome is not Outcome.CHANGED or not isinstance(wanted, int):
        return VerifyStatus.SUCCEEDED
    service = ctx.services.get(EcsClient).describe_service(target.part("cluster"), target.part("service"))
    if service.desired_count != wanted:
        return VerifyStatus.FAILED
    if service.running_count == wanted and service.pending_count == 0:
        return VerifyStatus.SUCCEEDED
    return VerifyStatus.PENDING


def rollback_scale(ctx: RunContext, target: Target, params: EcsScaleParams, result: RunResult) -> RunResult:
    """Restore the previous desiredCount, unless someone changed it after this run."""
    ecs = ctx.services.get(EcsClient)
    cluster, name = target.part("cluster"), target.part("service")
    return rollback_to_previous(
        result,
        read=lambda: ecs.describe_service(cluster, name).desired_count,
        write=lambda value: ecs.update_desired_count(cluster, name, value),
        key="desired_count",
        unit="desiredCount",
    )


def reconcile_scale_service(
    ctx: RunContext, target: Target, params: EcsScaleParams, started_at: datetime
) -> ReconcileDecision:
    current = ctx.services.get(EcsClient).describe_service(target.part("cluster"), target.part("service"))
    return reconcile_scale(params, current.desired_count)


@runbook(
    id=RUNBOOK_ID,
    title="Scale an ECS service",
    risk=Risk.MEDIUM,
    params=EcsScaleParams,
    target_kind="aws:ecs:service",
    plan=plan_scale,
    verify=verify_scale,
    rollback=rollback_scale,
    reconcile=reconcile_scale_service,
    timeout=timedelta(minutes=15),
    cooldown=timedelta(minutes=10),
    budget=Budget(max_runs=3, window=timedelta(hours=1)),
    approval=ApprovalPolicy.when_risk_at_least(Risk.HIGH),
)
def scale_service(ctx: RunContext, target: Target, params: EcsScaleParams) -> RunResult:
    """Scale an ECS service's desired task count, within min/max guards.

    Params: exactly one of `desired_count=N` (absolute), `step=+N`/`step=-N` or `factor=1.5`
    (relative to the current desiredCount, rounded away from it), plus optional `min`/`max` guards
    (defaults: `[aws.guards] ecs_min`/`ecs_max`). An absolute value outside the guards is refused
    (no-op `beyond_guard`); a relative one is clamped to them. The plan shows desiredCount
    before -> after. Verify waits until runningCount reaches the new count; rollback restores the
    previous count unless someone changed it since.

    Risk medium; approval only when risk >= high, so none by default (bounded and reversible).
    Budget 3 runs per service per hour, cooldown 10 min (let new tasks start and the metric
    settle before scaling again). Reconcile after a crash: an absolute count is compared with the
    live one; a relative change cannot be told apart from the baseline, so it escalates (UNKNOWN).
    """
    _, decision = _decide(ctx, target, params)
    if not decision.acts:
        return RunResult.noop(decision.verdict, message=decision.message, desired_count=decision.current)
    after = ctx.services.get(EcsClient).update_desired_count(
        target.part("cluster"), target.part("service"), decision.target
    )
    return changed_result(decision, key="desired_count", unit="desiredCount", now_value=after.desired_count)
