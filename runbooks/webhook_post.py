"""Runbook `webhook.post`: POST the incident, HMAC-signed, to a configured downstream endpoint."""

from __future__ import annotations

from datetime import timedelta

from bot.runbook_kit.spec import (
    ApprovalPolicy,
    Budget,
    Plan,
    PlannedCall,
    Risk,
    RunContext,
    RunResult,
    runbook,
)
from bot.runbook_kit.targets import Target
from integrations.downstream.webhook import SIGNATURE_HEADER, WebhookSender
from runbooks.incident_message import NO_INCIDENT, IncidentMessageParams, message_for

RUNBOOK_ID = "webhook.post"


def plan_post(ctx: RunContext, target: Target, params: IncidentMessageParams) -> Plan:
    """Read-only: check the endpoint and its secret are configured; show the exact body."""
    message = message_for(ctx, params)
    if message is None:
        return NO_INCIDENT
    name = target.part("name")
    endpoint = ctx.services.get(WebhookSender).endpoint(name)
    call = PlannedCall(
        system="webhook",
        operation="POST",
        params={"endpoint": name, "url": endpoint.url, "signed": SIGNATURE_HEADER},
        after=message.to_json(),
        description=f"POST incident {message.id} ({message.severity}) to {endpoint.url}",
    )
    return Plan(summary=f"POST incident {message.id} to webhook {name}", calls=[call])


@runbook(
    id=RUNBOOK_ID,
    title="POST the incident to a signed webhook",
    risk=Risk.LOW,
    params=IncidentMessageParams,
    target_kind="webhook:endpoint",
    plan=plan_post,
    timeout=timedelta(minutes=3),
    budget=Budget(max_runs=30, window=timedelta(hours=1)),
    approval=ApprovalPolicy.never(),
    idempotent=True,
    notification=True,
)
def post_webhook(ctx: RunContext, target: Target, params: IncidentMessageParams) -> RunResult:
    """POST a structured incident message (JSON) to an endpoint of [downstream.webhooks].

    The body is signed with HMAC-SHA256 (header X-Conductor-Signature: v1=<hex> over
    "<X-Conductor-Timestamp>.<body>"); X-Conductor-Message-Id is the same on every attempt.
    429, 5xx and network errors are retried ([downstream] webhook_max_attempts), each POST
    has a timeout ([downstream] webhook_timeout_seconds).
    Params: service (override); for manual runs incident_id, title, severity, summary.
    """
    message = message_for(ctx, params)
    if message is None:
        return RunResult.failed("no incident: pass incident_id and title for a manual run")
    name = target.part("name")
    delivery = ctx.services.get(WebhookSender).post(name, message)
    return RunResult.changed(
        f"posted incident {message.id} to webhook {name} (HTTP {delivery.status})",
        endpoint=name,
        status=delivery.status,
        attempts=delivery.attempts,
        message_id=message.message_id,
    )
