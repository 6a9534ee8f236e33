"""Runbook `azure.appservice.scale_plan`: set an App Service plan's worker count within guards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.runbook_kit.spec import (
    ApprovalPolicy,
    Budget,
    Outcome,
    Plan,
    PlannedCall,
    Risk,
    RunContext,
    RunResult,
    VerifyStatus,
    runbook,
)
from bot.runbook_kit.targets import Target
from integrations.azure.appservice import AppServiceClient, PlanState

RUNBOOK_ID = "azure.appservice.scale_plan"

# Plan verdicts / no-op reasons (the same names as the AWS scaling runbooks).
ACT = "act"
ALREADY_AT_TARGET = "already_at_target"
BEYOND_GUARD = "beyond_guard"


class ScalePlanParams(BaseModel):
    """Parameters of `azure.appservice.scale_plan`.

    `min_workers` / `max_workers` can only narrow the configured guards (`azure.min_workers`,
    `azure.max_workers`), never widen them.
    """

    model_config = ConfigDict(extra="forbid")

    workers: int = Field(ge=1, description="The worker count (sku.capacity) to set.")
    min_workers: int | None = Field(None, ge=1, description="A tighter lower guard for this run.")
    max_workers: int | None = Field(None, ge=1, description="A tighter upper guard for this run.")

    @model_validator(mode="after")
    def _ordered(self) -> ScalePlanParams:
        if (
            self.min_workers is not None
            and self.max_workers is not None
            and self.min_workers > self.max_workers
        ):
            raise ValueError("min_workers is above max_workers")
        return self


def _where(target: Target) -> tuple[str, str, str]:
    return target.part("subscription"), target.part("resource_group"), target.part("name")


def guards(config_min: int, config_max: int, params: ScalePlanParams, plan: PlanState) -> tuple[int, int]:
    """The effective [min, max]: config, narrowed by params and by the SKU's own maximum."""
    low = max(config_min, params.min_workers or config_min)
    high = min(config_max, params.max_workers or config_max)
    if plan.max_workers:
        high = min(high, plan.max_workers)
    return low, high


def plan_scale(ctx: RunContext, target: Target, params: ScalePlanParams) -> Plan:
    """Read-only: the plan's current workers, the guards, and the change (before -> after)."""
    apps = ctx.services.get(AppServiceClient)
    subscription, resource_group, name = _where(target)
    current = apps.get_plan(subscription, resource_group, name)
    low, high = guards(apps.settings.min_workers, apps.settings.max_workers, params, current)
    findings: dict[str, Any] = {
        "plan": current.name,
        "sku": current.sku,
        "status": current.status,
        "before": current.workers,
        "requested": params.workers,
        "min_workers": low,
        "max_workers": high,
    }
    if not low <= params.workers <= high:
        side = "above the maximum" if params.workers > high else "below the minimum"
        return Plan(
            summary=f"refused: {params.workers} workers is {side} allowed for {name} ({low}..{high})",
            verdict=BEYOND_GUARD,
            findings=findings,
        )
    if current.workers == params.workers:
        return Plan(
            summary=f"{name} already has {params.workers} workers",
            verdict=ALREADY_AT_TARGET,
            findings=findings,
        )
    call = PlannedCall(
        system="azure.web",
        operation="AppServicePlans.CreateOrUpdate",
        params={
            "subscription": subscription,
            "resource_group": resource_group,
            "name": name,
            "sku.capacity": params.workers,
        },
        before=current.workers,
        after=params.workers,
        description=f"set {name} ({current.sku}) workers {current.workers} -> {params.workers}",
    )
    return Plan(
        summary=f"scale {name} workers {current.workers} -> {params.workers}",
        calls=[call],
        findings=findings,
    )


def verify_workers(
    ctx: RunContext, target: Target, params: ScalePlanParams, result: RunResult
) -> VerifyStatus:
    """The plan reports the requested worker count and is not mid-operation."""
    if result.outcome is not Outcome.CHANGED:
        return VerifyStatus.SUCCEEDED
    plan = ctx.services.get(AppServiceClient).get_plan(*_where(target))
    if plan.workers == params.workers and (plan.status or "Ready").lower() == "ready":
        return VerifyStatus.SUCCEEDED
    return VerifyStatus.PENDING


def rollback_workers(
    ctx: RunContext, target: Target, params: ScalePlanParams, result: RunResult
) -> RunResult:
    """Restore the count read just before the change, unless the plan no longer has the count this
    run set (someone changed it since: overwriting would undo their change, not ours). Guards do
    not apply to a restore."""
    previous, applied = result.rollback_state.get("previous"), result.rollback_state.get("applied")
    if not isinstance(previous, int) or not isinstance(applied, int):
        return RunResult.noop("nothing_to_roll_back")
    apps = ctx.services.get(AppServiceClient)
    subscription, resource_group, name = _where(target)
    current = apps.get_plan(subscription, resource_group, name).workers
    if current == previous:
        return RunResult.noop(ALREADY_AT_TARGET, workers=current)
    if current != applied:
        return RunResult.failed(
            f"{name} has {current} workers, not the {applied} this run set: changed since, not rolling back",
            workers=current,
        )
    scaled = apps.set_plan_workers(subscription, resource_group, name, previous)
    return RunResult(
        Outcome.CHANGED,
        f"{name} workers {applied} -> {scaled.after.workers} (rolled back)",
        details={"workers": scaled.after.workers, "previous": applied},
        rollback_state={"previous": applied, "applied": previous},
    )


@runbook(
    id=RUNBOOK_ID,
    title="Scale an App Service plan's worker count",
    risk=Risk.MEDIUM,
    params=ScalePlanParams,
    target_kind="azure:web:plan",
    plan=plan_scale,
    verify=verify_workers,
    rollback=rollback_workers,
    timeout=timedelta(minutes=15),
    cooldown=timedelta(minutes=10),
    budget=Budget(max_runs=3, window=timedelta(hours=1)),
    approval=ApprovalPolicy.when_risk_at_least(Risk.HIGH),
    idempotent=True,
)
def scale_app_service_plan(ctx: RunContext, target: Target, params: ScalePlanParams) -> RunResult:
    """Set an App Service plan's worker count (sku.capacity), within min/max guards.

    Params: `workers=N` (required); optional `min_workers`/`max_workers` narrow the guards
    `[azure] min_workers`/`max_workers` for this run. A count outside the guards or above the
    SKU's maximum is refused (no-op `beyond_guard`); nothing is changed. The plan shows the
    worker count before -> after. Verify waits until the plan reports the new count; rollback
    restores the previous count unless someone changed it since.

    Risk medium, no approval by default (bounded by the guards and reversible), like the AWS
    scaling runbooks. Budget 3 runs per plan per hour, cooldown 10 min. Setting an absolute count
    is idempotent, so an interrupted run is simply repeated.
    """
    plan = plan_scale(ctx, target, params)
    if plan.is_noop:
        return RunResult.noop(plan.verdict, message=plan.summary, **plan.findings)
    subscription, resource_group, name = _where(target)
    scaled = ctx.services.get(AppServiceClient).set_plan_workers(
        subscription, resource_group, name, params.workers
    )
    return RunResult(
        Outcome.CHANGED,
        f"{name} workers {scaled.before} -> {scaled.after.workers}",
        details={**plan.findings, "before": scaled.before, "after": scaled.after.workers},
        rollback_state={"previous": scaled.before, "applied": params.workers},
    )
