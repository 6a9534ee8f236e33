"""aws.sqs.send_message and aws.sns.publish: the real boto3 clients against moto server."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from bot.errors import IntegrationError
from bot.runbook_kit.loader import load_builtin_runbooks
from bot.runbook_kit.spec import REGISTRY, IncidentContext, Outcome, Risk
from bot.runbook_kit.targets import parse_target
from integrations.downstream.settings import DownstreamSettings
from runbooks.aws_sns_publish import plan_publish, publish_sns, subject_of
from runbooks.aws_sqs_send_message import plan_send, send_sqs_message
from runbooks.incident_message import IncidentMessageParams, message_for
from tests.fakes.moto_server import MotoServer
from tests.runbooks.conftest import MakeContext

INCIDENT = IncidentContext(
    incident_id="42",
    title="Orders API 5xx rate",
    severity="critical",
    status="open",
    summary="5xx rate above 5% for 10 minutes",
    labels={"service": "orders", "resource": "aws:ecs:service/prod/orders-api"},
    links=["https://grafana.example.com/d/orders"],
)
DOWNSTREAM = DownstreamSettings(incident_link="https://conductor.example.com/ui/incidents/{id}")


def _ctx(make_ctx: MakeContext, incident: IncidentContext | None = INCIDENT) -> Any:
    ctx = make_ctx(run_id="7", replace={DownstreamSettings: DOWNSTREAM})
    return type(ctx)(run_id=ctx.run_id, services=ctx.services, clock=ctx.clock, incident=incident)


def _receive(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return list(reply.get("Messages", []))


@pytest.mark.parametrize(
    "runbook_id",
    ["aws.sqs.send_message", "aws.sns.publish", "webhook.post", "jira.open_ticket", "pagerduty.page"],
)
def test_telling_runbooks_are_low_risk_idempotent_notifications_with_a_budget(runbook_id: str) -> None:
    """Notifications are done once sent: never judged "ineffective", so never trip a circuit."""
    load_builtin_runbooks()
    spec = REGISTRY.get(runbook_id)
    assert spec is not None
    assert spec.risk is Risk.LOW
    assert spec.idempotent and spec.notification
    assert spec.budget is not None


def test_the_message_carries_the_incident(make_ctx: MakeContext) -> None:
    message = message_for(_ctx(make_ctx), IncidentMessageParams())
    assert message is not None
    assert message.to_json() | {"sent_at": "-"} == {
        "type": "conductor.incident",
        "version": 1,
        "message_id": "conductor-42-run-7",
        "id": "42",
        "title": "Orders API 5xx rate",
        "severity": "critical",
        "status": "open",
        "service": "orders",
        "resource": "aws:ecs:service/prod/orders-api",
        "summary": "5xx rate above 5% for 10 minutes",
        "link": "https://conductor.example.com/ui/incidents/42",
        "sent_at": "-",
    }


def test_sqs_message_arrives_with_attributes(moto: MotoServer, make_ctx: MakeContext) -> None:
    url = boto3.client("sqs").create_queue(QueueName="orders-incidents")["QueueUrl"]
    ctx = _ctx(make_ctx)
    target = parse_target("aws:sqs:queue/orders-incidents")

    plan = plan_send(ctx, target, IncidentMessageParams())
    assert [c.operation for c in plan.calls] == ["SendMessage"]
    assert _receive(url) == []  # planning sends nothing

    result = send_sqs_message(ctx, target, IncidentMessageParams())
    assert result.outcome is Outcome.CHANGED
    [received] = _receive(url)
    body = json.loads(received["Body"])
    assert body == plan.calls[0].after
    assert body["severity"] == "critical" and body["service"] == "orders"
    assert received["MessageAttributes"]["severity"]["StringValue"] == "critical"
    assert received["MessageAttributes"]["service"]["StringValue"] == "orders"


def test_fifo_queue_gets_group_and_deduplication(moto: MotoServer, make_ctx: MakeContext) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    ctx = _ctx(make_ctx)
    target = parse_target("aws:sqs:queue/orders.fifo")
    send_sqs_message(ctx, target, IncidentMessageParams())
    send_sqs_message(ctx, target, IncidentMessageParams())  # a repeat of the same run: deduplicated
    reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    [received] = reply["Messages"]
    assert received["Attributes"]["MessageGroupId"] == "orders"


def test_missing_queue_fails_in_the_plan(moto: MotoServer, make_ctx: MakeContext) -> None:
    with pytest.raises(IntegrationError, match="GetQueueUrl"):
        plan_send(_ctx(make_ctx), parse_target("aws:sqs:queue/nope"), IncidentMessageParams())


def test_manual_run_without_incident_needs_id_and_title(moto: MotoServer, make_ctx: MakeContext) -> None:
    url = boto3.client("sqs").create_queue(QueueName="q")["QueueUrl"]
    ctx = _ctx(make_ctx, incident=None)
    target = parse_target("aws:sqs:queue/q")
    assert plan_send(ctx, target, IncidentMessageParams()).verdict == "no_incident"
    assert send_sqs_message(ctx, target, IncidentMessageParams()).outcome is Outcome.FAILED
    assert _receive(url) == []

    params = IncidentMessageParams(incident_id="9", title="manual", severity="warning", service="billing")
    assert send_sqs_message(ctx, target, params).outcome is Outcome.CHANGED
    [received] = _receive(url)
    assert json.loads(received["Body"])["service"] == "billing"


def test_sns_publish_fans_out_to_a_subscribed_queue(moto: MotoServer, make_ctx: MakeContext) -> None:
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    arn = sns.create_topic(Name="incidents")["TopicArn"]
    url = sqs.create_queue(QueueName="consumer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    ctx = _ctx(make_ctx)
    target = parse_target(f"aws:sns:topic/{arn}")

    plan = plan_publish(ctx, target, IncidentMessageParams())
    assert plan.calls[0].params["subject"] == "[critical] incident 42: Orders API 5xx rate"
    result = publish_sns(ctx, target, IncidentMessageParams())
    assert result.outcome is Outcome.CHANGED

    [received] = _receive(url)
    envelope = json.loads(received["Body"])
    assert envelope["Subject"] == "[critical] incident 42: Orders API 5xx rate"
    assert json.loads(envelope["Message"])["id"] == "42"
    assert envelope["MessageAttributes"]["severity"]["Value"] == "critical"


def test_sns_missing_topic_fails_in_the_plan(moto: MotoServer, make_ctx: MakeContext) -> None:
    target = parse_target("aws:sns:topic/arn:aws:sns:us-east-1:123456789012:missing")
    with pytest.raises(IntegrationError, match="GetTopicAttributes"):
        plan_publish(_ctx(make_ctx), target, IncidentMessageParams())


def test_sns_subject_is_printable_ascii_within_100_characters(make_ctx: MakeContext) -> None:
    incident = IncidentContext(
        incident_id="1", title="ünïcode\nand a very long title " * 10, severity="info", status="open"
    )
    message = message_for(_ctx(make_ctx, incident), IncidentMessageParams())
    assert message is not None
    subject = subject_of(message)
    assert len(subject) == 100
    assert all(32 <= ord(c) < 127 for c in subject)
