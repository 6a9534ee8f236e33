"""Runbook `pagerduty.page`: page (or acknowledge / resolve) through the Events API v2."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.runbook_kit.spec import (
    ApprovalPolicy,
    Budget,
    IncidentContext,
    Plan,
    PlannedCall,
    Risk,
    RunContext,
    RunResult,
    runbook,
)
from bot.runbook_kit.targets import Target
from integrations.pagerduty.events import PageEvent, PagerDutyEvents, page_event

RUNBOOK_ID = "pagerduty.page"


class PageParams(BaseModel):
    """Parameters of `pagerduty.page`. The incident fields are for manual runs without an incident."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["trigger", "acknowledge", "resolve"] = Field("trigger", description="Event action.")
    dedup_key: str | None = Field(None, min_length=1, description="Defaults to the incident id.")
    incident_id: str | None = Field(None, min_length=1, description="Used when the run has no incident.")
    title: str | None = Field(None, min_length=1, description="Alert summary when the run has no incident.")
    severity: str = Field("unknown", description="Severity when the run has no incident.")


def _incident(ctx: RunContext, params: PageParams) -> IncidentContext | None:
    if ctx.incident is not None:
        return ctx.incident
    ident = params.incident_id or params.dedup_key
    if ident and params.title:
        return IncidentContext(
            incident_id=ident, title=params.title, severity=params.severity, status="firing"
        )
    return None


def _dedup_key(ctx: RunContext, params: PageParams) -> str | None:
    if params.dedup_key:
        return params.dedup_key
    incident = _incident(ctx, params)
    return incident.incident_id if incident is not None else params.incident_id


def _event(ctx: RunContext, params: PageParams, events: PagerDutyEvents) -> PageEvent | None:
    incident = _incident(ctx, params)
    if incident is None:
        return None
    event = page_event(incident, source=incident.labels.get("resource") or events.settings.source)
    if params.dedup_key and params.dedup_key != event.dedup_key:
        event = PageEvent(
            params.dedup_key, event.summary, event.source, event.severity, event.custom_details, event.links
        )
    return event


def plan_page(ctx: RunContext, target: Target, params: PageParams) -> Plan:
    """Read-only: check the service has a routing key and show the event (never the key)."""
    events = ctx.services.get(PagerDutyEvents)
    service = events.service_name(target.part("routing_key_name"))
    dedup_key = _dedup_key(ctx, params)
    if dedup_key is None:
        return Plan(
            summary="no incident: pass incident_id (or dedup_key) for a manual run", verdict="no_incident"
        )
    call_params: dict[str, object] = {"service": service, "dedup_key": dedup_key}
    if params.action == "trigger":
        event = _event(ctx, params, events)
        if event is None:
            return Plan(
                summary="a trigger needs an incident, or incident_id and title", verdict="no_incident"
            )
        call_params.update(severity=event.severity, summary=event.summary, source=event.source)
    call = PlannedCall(
        system="pagerduty",
        operation=f"EventsV2.{params.action}",
        params=call_params,
        after={"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}[params.action],
        description=f"{params.action} the PagerDuty alert {dedup_key} on service {service}",
    )
    return Plan(summary=f"{params.action} PagerDuty alert {dedup_key} ({service})", calls=[call])


@runbook(
    id=RUNBOOK_ID,
    title="Page on-call through PagerDuty",
    risk=Risk.LOW,
    params=PageParams,
    target_kind="pagerduty:service",
    plan=plan_page,
    timeout=timedelta(minutes=2),
    budget=Budget(max_runs=30, window=timedelta(hours=1)),
    approval=ApprovalPolicy.never(),
    idempotent=True,
    notification=True,  # done once sent: a ticket or a page fixes nothing to verify
)
def page_pagerduty(ctx: RunContext, target: Target, params: PageParams) -> RunResult:
    """Trigger, acknowledge or resolve a PagerDuty alert for the incident (Events API v2).

    The dedup key is the incident id, so repeating a trigger updates the same alert and a
    later acknowledge/resolve follows the incident. The target names a service whose routing
    key is read from the environment variable configured in `pagerduty.routing_keys`.
    Params: action (trigger|acknowledge|resolve), dedup_key; for manual runs incident_id,
    title, severity.
    """
    events = ctx.services.get(PagerDutyEvents)
    service = target.part("routing_key_name")
    if params.action == "trigger":
        event = _event(ctx, params, events)
        if event is None:
            return RunResult.failed("a trigger needs an incident, or incident_id and title")
        key = events.trigger(event, service=service)
    else:
        dedup_key = _dedup_key(ctx, params)
        if dedup_key is None:
            return RunResult.failed(f"{params.action} needs an incident or a dedup_key")
        if params.action == "acknowledge":
            key = events.acknowledge(dedup_key, service=service)
        else:
            key = events.resolve(dedup_key, service=service)
    return RunResult.changed(f"{params.action} sent to PagerDuty ({service})", dedup_key=key, service=service)
