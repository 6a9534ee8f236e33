"""Runbook `aws.sqs.send_message`: tell a downstream consumer's SQS queue about the incident."""

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
from integrations.aws.messaging import SqsClient
from integrations.downstream.message import IncidentMessage
from runbooks.incident_message import NO_INCIDENT, IncidentMessageParams, message_for

RUNBOOK_ID = "aws.sqs.send_message"


def _fifo(queue: str) -> bool:
    return queue.endswith(".fifo")


def _call(queue: str, message: IncidentMessage) -> PlannedCall:
    fifo = _fifo(queue)
    params: dict[str, object] = {"queue": queue, "message_id": message.message_id}
    if fifo:
        params.update(group_id=message.service or message.id, deduplication_id=message.message_id)
    return PlannedCall(
        system="aws.sqs",
        operation="SendMessage",
        params=params,
        after=message.to_json(),
        description=f"send incident {message.id} ({message.severity}) to the SQS queue {queue}",
    )


def plan_send(ctx: RunContext, target: Target, params: IncidentMessageParams) -> Plan:
    """Read-only: find the queue (GetQueueUrl) and show the exact message."""
    message = message_for(ctx, params)
    if message is None:
        return NO_INCIDENT
    queue = target.part("name")
    ctx.services.get(SqsClient).queue_url(queue)  # a missing queue fails here, before any approval
    return Plan(summary=f"send incident {message.id} to SQS queue {queue}", calls=[_call(queue, message)])


@runbook(
    id=RUNBOOK_ID,
    title="Send the incident to an SQS queue",
    risk=Risk.LOW,
    params=IncidentMessageParams,
    target_kind="aws:sqs:queue",
    plan=plan_send,
    timeout=timedelta(minutes=2),
    budget=Budget(max_runs=30, window=timedelta(hours=1)),
    approval=ApprovalPolicy.never(),
    idempotent=True,
    notification=True,
)
def send_sqs_message(ctx: RunContext, target: Target, params: IncidentMessageParams) -> RunResult:
    """Send a structured incident message (JSON) to a downstream consumer's SQS queue.

    The body holds id, title, severity, status, service, resource, summary, link and a
    message_id that is the same for every attempt of a run, so consumers can drop repeats;
    severity and service are also message attributes. On a FIFO queue (name ending `.fifo`)
    the group is the service and the deduplication id is the message_id.
    Params: service (override); for manual runs incident_id, title, severity, summary.
    """
    message = message_for(ctx, params)
    if message is None:
        return RunResult.failed("no incident: pass incident_id and title for a manual run")
    queue = target.part("name")
    sqs = ctx.services.get(SqsClient)
    fifo = _fifo(queue)
    sent = sqs.send_message(
        sqs.queue_url(queue),
        message.body().decode(),
        attributes={"severity": message.severity, "service": message.service, "type": message.type},
        group_id=(message.service or message.id) if fifo else None,
        deduplication_id=message.message_id if fifo else None,
    )
    return RunResult.changed(
        f"sent incident {message.id} to SQS queue {queue}",
        queue=queue,
        sqs_message_id=sent,
        message_id=message.message_id,
    )
