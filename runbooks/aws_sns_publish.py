"""Runbook `aws.sns.publish`: publish the incident to an SNS topic its consumers subscribe to."""

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
from integrations.aws.messaging import SnsClient
from integrations.downstream.message import IncidentMessage
from runbooks.incident_message import NO_INCIDENT, IncidentMessageParams, message_for

RUNBOOK_ID = "aws.sns.publish"
SUBJECT_LIMIT = 100  # SNS refuses longer subjects


def subject_of(message: IncidentMessage) -> str:
    """SNS subjects: printable ASCII, no line breaks, at most 100 characters."""
    text = f"[{message.severity}] incident {message.id}: {message.title}"
    cleaned = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return cleaned[:SUBJECT_LIMIT]


def _fifo(arn: str) -> bool:
    return arn.endswith(".fifo")


def plan_publish(ctx: RunContext, target: Target, params: IncidentMessageParams) -> Plan:
    """Read-only: check the topic exists (GetTopicAttributes) and show the exact message."""
    message = message_for(ctx, params)
    if message is None:
        return NO_INCIDENT
    arn = target.part("arn")
    ctx.services.get(SnsClient).topic_attributes(arn)
    call = PlannedCall(
        system="aws.sns",
        operation="Publish",
        params={"topic": arn, "subject": subject_of(message), "message_id": message.message_id},
        after=message.to_json(),
        description=f"publish incident {message.id} ({message.severity}) to {arn}",
    )
    return Plan(summary=f"publish incident {message.id} to SNS topic {arn}", calls=[call])


@runbook(
    id=RUNBOOK_ID,
    title="Publish the incident to an SNS topic",
    risk=Risk.LOW,
    params=IncidentMessageParams,
    target_kind="aws:sns:topic",
    plan=plan_publish,
    timeout=timedelta(minutes=2),
    budget=Budget(max_runs=30, window=timedelta(hours=1)),
    approval=ApprovalPolicy.never(),
    idempotent=True,
    notification=True,
)
def publish_sns(ctx: RunContext, target: Target, params: IncidentMessageParams) -> RunResult:
    """Publish a structured incident message (JSON) to an SNS topic (target: the topic ARN).

    Same message as aws.sqs.send_message (id, severity, service, resource, summary, link,
    message_id); severity and service are also message attributes, so subscriptions can
    filter on them. The subject is "[severity] incident ID: title".
    Params: service (override); for manual runs incident_id, title, severity, summary.
    """
    message = message_for(ctx, params)
    if message is None:
        return RunResult.failed("no incident: pass incident_id and title for a manual run")
    arn = target.part("arn")
    fifo = _fifo(arn)
    sent = ctx.services.get(SnsClient).publish(
        arn,
        message.body().decode(),
        subject=subject_of(message),
        attributes={"severity": message.severity, "service": message.service, "type": message.type},
        group_id=(message.service or message.id) if fifo else None,
        deduplication_id=message.message_id if fifo else None,
    )
    return RunResult.changed(
        f"published incident {message.id} to {arn}",
        topic=arn,
        sns_message_id=sent,
        message_id=message.message_id,
    )
