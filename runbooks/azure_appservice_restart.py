"""Runbook `azure.appservice.restart`: restart a web app, but only when it is running out of memory."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.runbook_kit.spec import (
    ApprovalPolicy,
    Budget,
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
from integrations.azure.appservice import AppServiceClient, SiteState
from integrations.azure.logs import ErrorCount, LogAnalyticsClient

log = logging.getLogger(__name__)

RUNBOOK_ID = "azure.appservice.restart"
MESSAGE_LIMIT = 300  # characters of each error message kept in findings


class RestartParams(BaseModel):
    """Parameters of `azure.appservice.restart`; unset values come from `[azure]`."""

    model_config = ConfigDict(extra="forbid")

    lookback_minutes: int | None = Field(
        None, ge=1, le=1440, description="Diagnosis window (azure.lookback_minutes)."
    )
    oom_min_count: int | None = Field(
        None, ge=1, description="Out-of-memory errors needed to restart (azure.oom_min_count)."
    )
    soft: bool = Field(False, description="Soft restart: recycle the process without reloading the app.")
    force: bool = Field(
        False, description="Restart even when the diagnosis does not find the out-of-memory pattern."
    )


def _where(target: Target) -> tuple[str, str, str]:
    return target.part("subscription"), target.part("resource_group"), target.part("name")


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"


def _listing(errors: list[ErrorCount], limit: int) -> list[dict[str, Any]]:
    return [{"message": _short(e.message), "count": e.occurrences} for e in errors[:limit]]


def diagnose(ctx: RunContext, target: Target, params: RestartParams) -> Plan:
    """Read-only: the site's state and its recent errors decide whether to restart."""
    apps = ctx.services.get(AppServiceClient)
    subscription, resource_group, name = _where(target)
    site = apps.get_site(subscription, resource_group, name)
    findings: dict[str, Any] = {"site": site.name, "state": site.state}
    if not site.is_running:
        # Someone stopped it (or it is mid-operation): restarting would fight a human.
        return Plan(
            summary=f"{name} is {site.state}, not Running: not restarting",
            verdict="site_not_running",
            findings=findings,
        )

    logs = ctx.services.get(LogAnalyticsClient)
    settings = logs.settings
    lookback = params.lookback_minutes or settings.lookback_minutes
    threshold = params.oom_min_count or settings.oom_min_count
    now = ctx.clock()
    errors: list[ErrorCount] = []
    if settings.workspace_id or not params.force:
        errors = logs.exceptions(site.resource_id, now - timedelta(minutes=lookback), until=now)
    pattern = re.compile(settings.oom_pattern)
    oom = [e for e in errors if pattern.search(e.message)]
    oom_count = sum(e.occurrences for e in oom)
    findings.update(
        lookback_minutes=lookback,
        oom_pattern=settings.oom_pattern,
        oom_count=oom_count,
        oom_min_count=threshold,
        oom_messages=_listing(oom, settings.top_errors),
        top_errors=_listing(errors, settings.top_errors),
        distinct_errors=len(errors),
    )
    if oom_count < threshold and not params.force:
        return Plan(
            summary=(
                f"{name}: {oom_count} out-of-memory errors in the last {lookback} min "
                f"(restart needs {threshold}); investigate the top errors instead"
            ),
            verdict="investigate",
            findings=findings,
        )
    why = (
        f"{oom_count} out-of-memory errors in the last {lookback} min (threshold {threshold})"
        if oom_count >= threshold
        else f"forced by the requester ({oom_count} out-of-memory errors, threshold {threshold})"
    )
    call = PlannedCall(
        system="azure.web",
        operation="WebApps.Restart",
        params={
            "subscription": subscription,
            "resource_group": resource_group,
            "name": name,
            "soft_restart": params.soft,
        },
        before=site.state,
        after="Running (restarted)",
        description=f"{'soft-' if params.soft else ''}restart every instance of {name}: {why}",
    )
    return Plan(summary=f"restart {name}: {why}", calls=[call], findings=findings)


def verify_running(ctx: RunContext, target: Target, params: RestartParams, result: RunResult) -> VerifyStatus:
    """The site must be back in state Running."""
    site = ctx.services.get(AppServiceClient).get_site(*_where(target))
    if site.is_running:
        return VerifyStatus.SUCCEEDED
    if site.state.lower() == "stopped":
        return VerifyStatus.FAILED
    return VerifyStatus.PENDING


def reconcile_restart(
    ctx: RunContext, target: Target, params: RestartParams, started_at: datetime
) -> ReconcileDecision:
    """After a crash: a site modified since the run started was restarted; otherwise we cannot tell.

    ARM has no restart history, and a restart is disruptive, so an unchanged last-modified time
    is not proof that the restart did not happen: that case goes to a human (UNKNOWN).
    """
    site: SiteState = ctx.services.get(AppServiceClient).get_site(*_where(target))
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=UTC)
    if site.last_modified is None or not site.is_running:
        log.info("reconcile %s: state %s, last modified %s: unknown", target, site.state, site.last_modified)
        return ReconcileDecision.UNKNOWN
    if site.last_modified >= started_at:
        return ReconcileDecision.ALREADY_APPLIED
    log.info("reconcile %s: not modified since %s; a restart may still have happened", target, started_at)
    return ReconcileDecision.UNKNOWN


@runbook(
    id=RUNBOOK_ID,
    title="Restart an App Service web app that is out of memory",
    risk=Risk.MEDIUM,
    params=RestartParams,
    target_kind="azure:web:site",
    plan=diagnose,
    verify=verify_running,
    reconcile=reconcile_restart,
    timeout=timedelta(minutes=10),
    cooldown=timedelta(minutes=15),
    budget=Budget(max_runs=3, window=timedelta(hours=1)),
    approval=ApprovalPolicy.when_risk_at_least(Risk.MEDIUM),
)
def restart_app_service(ctx: RunContext, target: Target, params: RestartParams) -> RunResult:
    """Restart an App Service web app when its logs show it running out of memory.

    Diagnoses first (in the plan, so a dry run and the approval message show it): queries Log
    Analytics for the app's errors over the last `lookback_minutes` (AppExceptions and
    AppServiceConsoleLogs; the KQL is `[azure] exceptions_kql`). Only when the out-of-memory
    pattern (`[azure] oom_pattern`: OutOfMemoryException, OutOfMemoryError, OOMKilled, "out of
    memory") appears at least `oom_min_count` times does it restart the site; otherwise nothing
    is restarted and the verdict is `investigate`, with the top error messages and their counts
    as findings. A site that is not Running is never restarted (`site_not_running`).

    Params: lookback_minutes, oom_min_count (override the config), soft (recycle the process
    without reloading the app), force (restart without the out-of-memory evidence).
    Risk medium, approval when risk >= medium. Budget 3 runs per site per hour, cooldown 15 min.
    Verify: the site is Running again. Reconcile after a crash: a site modified since the run
    started was restarted (ALREADY_APPLIED); otherwise UNKNOWN, since a restart is disruptive
    and ARM keeps no restart history.
    """
    plan = diagnose(ctx, target, params)
    if plan.is_noop:
        return RunResult.noop(plan.verdict, message=plan.summary, **plan.findings)
    subscription, resource_group, name = _where(target)
    ctx.services.get(AppServiceClient).restart(subscription, resource_group, name, soft=params.soft)
    return RunResult.changed(
        plan.summary,
        restarted_at=ctx.clock().isoformat(),
        soft=params.soft,
        **plan.findings,
    )
