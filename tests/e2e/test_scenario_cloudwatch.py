"""Scenario 1: an SNS-signed CloudWatch ALARM for an ELB 5xx metric opens an incident with the anomaly
explanation and one Jira ticket; the OK notification resolves it, comments and transitions the ticket;
a duplicate SNS delivery changes nothing; a forged one is refused and stores nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.store.models import Alert, Incident, RawEvent
from tests.e2e.world import TOPIC, World, post
from tests.scenario_data import cloudwatch_alarm_message, now_utc, put_history
from tests.sns_signing import new_key, notification

pytestmark = pytest.mark.e2e

LB = {"LoadBalancer": "app/shop-prod/50dc6c495c0c9188"}
SNS_HEADERS = {"content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}


def alarm(state: str) -> dict[str, Any]:
    return cloudwatch_alarm_message(
        name="shop-elb-5xx",
        state=state,
        namespace="AWS/ApplicationELB",
        metric="HTTPCode_ELB_5XX_Count",
        dimensions=LB,
        at=now_utc(),
        threshold=50,
    )


def test_cloudwatch_alarm_opens_incident_and_jira_ticket_and_ok_resolves_both(world: World) -> None:
    # more than a day of history (see tests/e2e/test_scenario_appservice.py)
    put_history(
        "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", LB, end=now_utc(), base=5.0, spike=400.0, points=400
    )
    server = world.start_server()
    firing = json.dumps(notification(alarm("ALARM"), topic=TOPIC, key=world.sns_key)).encode()
    first = post(server, "/webhooks/cloudwatch", firing, **SNS_HEADERS)
    assert first.status_code == 202 and first.json()["duplicate"] is False

    incident = world.wait_for(
        lambda: next((i for i in world.rows(Incident) if i.jira_key and i.decision), None),
        what="the incident with its Jira ticket and decision",
    )
    assert incident.title == "shop-elb-5xx on shop-prod"
    assert incident.anomaly_status == "ok" and incident.anomaly_score is not None
    assert incident.anomaly_score >= incident.anomaly_threshold
    assert "sigma" in incident.explanation or "7-day range" in incident.explanation
    assert "(signal: " in incident.explanation
    assert incident.decision == "no_action" and "no rule matches" in incident.decision_reason
    [parent] = world.wait_for(lambda: world.slack.messages("C0INCIDENTS"), what="the Slack incident message")
    assert any(incident.explanation[:40] in text for text in parent.block_texts())
    world.wait_for(
        lambda: world.slack.files(channel="C0INCIDENTS", thread_ts=parent.ts), what="the metric chart"
    )
    [ticket] = world.jira.issues.values()
    assert ticket.key == incident.jira_key
    assert f"conductor-incident-{incident.id}" in ticket.fields["labels"]

    # SNS retries the same message: acknowledged, recognised, nothing changes
    again = post(server, "/webhooks/cloudwatch", firing, **SNS_HEADERS)
    assert again.status_code == 202 and again.json()["duplicate"] is True
    [raw] = world.rows(RawEvent, RawEvent.source == "cloudwatch")
    assert raw.duplicates == 1
    assert world.rows(Alert)[0].deliveries == 1

    # a forged message (signed with another key) is refused and stores nothing
    forged = json.dumps(notification(alarm("ALARM"), topic=TOPIC, key=new_key())).encode()
    assert post(server, "/webhooks/cloudwatch", forged, **SNS_HEADERS).status_code == 401
    assert len(world.rows(RawEvent)) == 1

    ok = json.dumps(notification(alarm("OK"), topic=TOPIC, key=world.sns_key)).encode()
    assert post(server, "/webhooks/cloudwatch", ok, **SNS_HEADERS).status_code == 202
    resolved = world.wait_for(
        lambda: next((i for i in world.rows(Incident) if i.status == "resolved"), None), what="resolution"
    )
    assert resolved.id == incident.id
    world.wait_for(
        lambda: world.jira.issues[incident.jira_key].status == "Done", what="the ticket transition"
    )
    comments = [c["body"] for c in world.jira.issues[incident.jira_key].comments]
    assert any("Time to resolve" in c for c in comments)
    assert len(world.jira.issues) == 1
    summary = world.wait_for(
        lambda: [m for m in world.slack.thread("C0INCIDENTS", parent.ts) if "resolve" in m.text.lower()],
        what="the resolution summary in the thread",
    )
    assert any("time to resolve" in " ".join(m.block_texts()).lower() for m in summary)
    assert len(world.slack.messages("C0INCIDENTS")) == 1  # one parent message per incident, updated in place
