"""aws.autoscaling.set_capacity: set an Auto Scaling group's desired capacity, within guards."""

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
from integrations.aws.clients import AutoScalingClient, AutoScalingGroup
from integrations.aws.settings import AwsSettings
from runbooks.aws_scaling import (
    ScaleDecision,
    ScaleParams,
    changed_result,
    decide_scale,
    reconcile_scale,
    rollback_to_previous,
)

RUNBOOK_ID = "aws.autoscaling.set_capacity"


class AsgCapacityParams(ScaleParams):
    """Exactly one of `desired_capacity`, `step` or `factor`; optional `min`/`max` guards."""

    absolute_name: ClassVar[str] = "desired_capacity"

    desired_capacity: int | None = Field(None, ge=0, description="Absolute number of instances.")

    @property
    def absolute(self) -> int | None:
        return self.desired_capacity


def _decide(
    ctx: RunContext, target: Target, params: AsgCapacityParams
) -> tuple[AutoScalingGroup, ScaleDecision]:
    guards = ctx.services.get(AwsSettings).guards
    group = ctx.services.get(AutoScalingClient).describe_group(target.part("name"))
    # The group's own MinSize/MaxSize always win: AWS would reject anything outside them.
    lo = max(guards.asg_min if params.min is None else params.min, group.min_size)
    hi = min(guards.asg_max if params.max is None else params.max, group.max_size)
    decision = decide_scale(params, current=group.desired_capacity, lo=lo, hi=hi, unit="DesiredCapacity")
    return group, decision


def plan_capacity(ctx: RunContext, target: Target, params: AsgCapacityParams) -> Plan:
    group, decision = _decide(ctx, target, params)
    findings = {
        **decision.findings(),
        "request": params.describe(),
        "group_limits": [group.min_size, group.max_size],
        "in_service": group.in_service_count,
    }
    if not decision.acts:
        return Plan(summary=decision.message, verdict=decision.verdict, findings=findings)
    call = PlannedCall(
        system="aws.autoscaling",
        operation="SetDesiredCapacity",
        params={
            "AutoScalingGroupName": group.name,
            "DesiredCapacity": decision.target,
            "HonorCooldown": False,
        },
        before=decision.current,
        after=decision.target,
        description=f"DesiredCapacity {decision.current} -> {decision.target}",
    )
    return Plan(summary=f"Set capacity of {group.name}: {decision.message}", calls=[call], findings=findings)


def verify_capacity(
    ctx: RunContext, target: Target, params: AsgCapacityParams, result: RunResult
) -> VerifyStatus:
    """Succeeded once exactly the asked number of instances is InService and Healthy."""
    wanted = result.details.get("desired_capacity")
    if result.outcome is not Outcome.CHANGED or not isinstance(wanted, int):
        return VerifyStatus.SUCCEEDED
    group = ctx.services.get(AutoScalingClient).describe_group(target.part("name"))
    if group.desired_capacity != wanted:
        return VerifyStatus.FAILED
    if group.in_service_count == wanted and group.instance_count == wanted:
        return VerifyStatus.SUCCEEDED
    return VerifyStatus.PENDING


def rollback_capacity(
    ctx: RunContext, target: Target, params: AsgCapacityParams, result: RunResult
) -> RunResult:
    """Restore the previous DesiredCapacity, unless something changed it after this run."""
    asg = ctx.services.get(AutoScalingClient)
    name = target.part("name")
    return rollback_to_previous(
        result,
        read=lambda: asg.describe_group(name).desired_capacity,
        write=lambda value: asg.set_desired_capacity(name, value),
        key="desired_capacity",
        unit="DesiredCapacity",
    )


def reconcile_capacity(
    ctx: RunContext, target: Target, params: AsgCapacityParams, started_at: datetime
) -> ReconcileDecision:
    group = ctx.services.get(AutoScalingClient).describe_group(target.part("name"))
    return reconcile_scale(params, group.desired_capacity)


@runbook(
    id=RUNBOOK_ID,
    title="Set an Auto Scaling group's capacity",
    risk=Risk.MEDIUM,
    params=AsgCapacityParams,
    target_kind="aws:autoscaling:group",
    plan=plan_capacity,
    verify=verify_capacity,
    rollback=rollback_capacity,
    reconcile=reconcile_capacity,
    timeout=timedelta(minutes=20),
    cooldown=timedelta(minutes=10),
    budget=Budget(max_runs=3, window=timedelta(hours=1)),
    approval=ApprovalPolicy.when_risk_at_least(Risk.HIGH),
)
def set_capacity(ctx: RunContext, target: Target, params: AsgCapacityParams) -> RunResult:
    """Set an Auto Scaling group's desired capacity, within guards and the group's own min/max.

    Params: exactly one of `desired_capacity=N` (absolute), `step=+N`/`step=-N` or `factor=1.5`
    (relative to the current DesiredCapacity, rounded away from it), plus optional `min`/`max`
    guards (defaults: `[aws.guards] asg_min`/`asg_max`), always narrowed to the group's MinSize and
    MaxSize. An absolute value outside the guards is refused (no-op `beyond_guard`); a relative one
    is clamped to them. The plan shows DesiredCapacity before -> after. Verify waits until that many
    instances are InService and Healthy; rollback restores the previous capacity unless it was
    changed since.

    Risk medium; approval only when risk >= high, so none by default (bounded and reversible).
    Budget 3 runs per group per hour, cooldown 10 min (instances need minutes to boot and pass
    health checks). Reconcile after a crash: an absolute capacity is compared with the live one;
    a relative change escalates (UNKNOWN).
    """
    _, decision = _decide(ctx, target, params)
    if not decision.acts:
        return RunResult.noop(decision.verdict, message=decision.message, desired_capacity=decision.current)
    after = ctx.services.get(AutoScalingClient).set_desired_capacity(target.part("name"), decision.target)
    return changed_result(
        decision, key="desired_capacity", unit="DesiredCapacity", now_value=after.desired_capacity
    )
