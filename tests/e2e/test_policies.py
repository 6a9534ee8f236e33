"""Issue 16 end to end, through a real `conductor serve`: a freeze turns an automatic run into an
approval; a cap queues a run; the circuit opens after repeated ineffective runs and closes on
resume; suggest mode does not act; an SQS message arrives for a critical incident.

Alerts come in on the `generic` webhook; AWS is moto; Slack and PagerDuty are the recording fakes.
Runs act with `aws.sqs.send_message` and with the example user runbook of examples/runbooks
(loaded through `[runbooks] directories`), so each scenario changes something real in moto.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from bot.store.models import AuditRecord, Circuit, Incident, RunbookRun
from tests.e2e.server import ServerProcess
from tests.e2e.world import World, post

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "runbooks"
VISIBILITY = "acme.sqs.raise_visibility_timeout"
TOKEN = {"Authorization": "Bearer e2e-api-token"}  # [server] api_token_env: the responder token

NOTIFY_RULE: dict[str, Any] = {
    "name": "notify the orders consumers",
    "match": [{"name": "severity", "value": "critical"}, {"name": "label:service", "value": "orders"}],
    "runbook": "aws.sqs.send_message",
    "target": "aws:sqs:queue/{labels[notify]}",
}
VISIBILITY_RULE: dict[str, Any] = {
    "name": "slow consumers",
    "match": [{"name": "name", "value": "ConsumerSlow"}],
    "runbook": VISIBILITY,
    "target": "aws:sqs:queue/{labels[queue]}",
    "params": {"seconds": 600},
}


@pytest.fixture
def q() -> Callable[[str], str]:
    """Queue names of this test only (moto keeps its state in this process across scenarios)."""
    prefix = uuid.uuid4().hex[:8]
    return lambda name: f"{prefix}-{name}"


def alert(
    name: str, *, service: str, severity: str = "critical", status: str = "firing", **labels: str
) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "severity": severity,
        "summary": f"{name} on {service}",
        "resource": {"provider": "aws", "type": "sqs:queue", "id": labels.get("queue", f"{service}/{name}")},
        "labels": {"service": service, **labels},
        "links": ["https://grafana.example.com/d/orders"],
    }


def send(server: ServerProcess, body: dict[str, Any]) -> None:
    response = post(server, "/webhooks/generic", body)
    assert response.status_code == 202, response.text


def conductor(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args, "--config", str(world.tmp / "config.toml")],
        env={**world.servers[0].env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def queue(name: str, visibility: int = 30) -> str:
    return str(
        boto3.client("sqs").create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility)})[
            "QueueUrl"
        ]
    )


def received(url: str) -> list[dict[str, Any]]:
    reply = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in reply.get("Messages", [])]


def visibility(name: str) -> int:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["VisibilityTimeout"]
    )


def runs(world: World, status: str | None = None) -> list[RunbookRun]:
    return world.rows(RunbookRun, *([RunbookRun.status == status] if status else []))


def test_an_sqs_message_arrives_for_a_critical_incident(world: World, q: Callable[[str], str]) -> None:
    url = queue(q("orders-incidents"))
    server = world.start_server(
        rules=[NOTIFY_RULE], downstream={"incident_link": "https://conductor.example.com/ui/incidents/{id}"}
    )
    send(server, alert("QueueBacklog", service="orders", severity="warning", notify=q("orders-incidents")))
    send(server, alert("CheckoutErrors", service="orders", notify=q("orders-incidents")))
    messages = world.wait_for(lambda: received(url), what="the incident message in SQS")
    [message] = messages
    [incident] = [i for i in world.rows(Incident) if i.resource_id == "orders/CheckoutErrors"]
    assert message["id"] == str(incident.id)
    assert (message["severity"], message["service"]) == ("critical", "orders")
    assert message["resource"] == "orders/CheckoutErrors"
    assert message["summary"] == "CheckoutErrors on orders"
    assert message["link"] == f"https://conductor.example.com/ui/incidents/{incident.id}"
    run = world.wait_for(lambda: runs(world, "succeeded"), what="the run to succeed")[0]
    assert run.runbook_id == "aws.sqs.send_message" and run.service == "orders"


def test_a_freeze_turns_an_automatic_run_into_an_approval(world: World, q: Callable[[str], str]) -> None:
    url = queue(q("orders-incidents"))
    server = world.start_server(
        rules=[NOTIFY_RULE],
        approvals={"approvers": {"risk:low": {"users": ["bob"]}}},
        permissions={"cli": {"act_as": True}},
    )
    added = conductor(
        world, "freeze", "add", "--name", "release freeze", "-m", "service=orders", "--duration", "1h"
    )
    assert 'freeze 1 "release freeze"' in added.stdout
    send(server, alert("CheckoutErrors", service="orders", notify=q("orders-incidents")))
    [run] = world.wait_for(lambda: runs(world, "awaiting_approval"), what="the run to wait for approval")
    assert run.reason.startswith('change freeze "release freeze" (#1, until ')
    [incident] = world.wait_for(lambda: world.rows(Incident, Incident.decision != ""), what="the decision")
    assert incident.decision == "needs_approval" and "release freeze" in incident.decision_reason
    assert received(url) == []
    audited = world.rows(AuditRecord, AuditRecord.action == "freeze.added")
    assert audited and audited[0].actor.startswith("cli:")

    conductor(world, "approvals", "approve", "1", "--as", "bob")
    world.wait_for(lambda: received(url), what="the message once approved")


def test_a_cap_queues_a_run_until_a_slot_frees(world: World, q: Callable[[str], str]) -> None:
    queue(q("q1"))
    queue(q("q2"))
    server = world.start_server(
        rules=[VISIBILITY_RULE],
        runbooks={"directories": [str(EXAMPLES)], "verify_timeout_minutes": 2.0, "verify_poll_seconds": 1.0},
        caps={"max_concurrent_per_runbook": 1},
    )
    first = alert("ConsumerSlow", service="orders", queue=q("q1"))
    send(server, first)
    world.wait_for(lambda: runs(world, "verifying"), what="the first run to act (and stay in flight)")
    send(server, alert("ConsumerSlow", service="billing", queue=q("q2")))
    [queued] = world.wait_for(lambda: runs(world, "queued"), what="the second run to queue")
    assert queued.reason == f"queued: cap: 1 of 1 runs of {VISIBILITY} in flight"
    shown = httpx.get(f"{server.url}/api/runs?status=queued", headers=TOKEN, timeout=10).json()["runs"]
    assert [r["id"] for r in shown] == [queued.id]  # the queue is visible
    assert visibility(q("q2")) == 30

    send(server, {**first, "status": "resolved"})  # the first incident resolves: its run is verified
    world.wait_for(lambda: visibility(q("q2")) == 600, what="the queued run to act once the slot frees")
    assert visibility(q("q1")) == 600


def test_the_circuit_opens_after_repeated_ineffective_runs_and_closes_on_resume(
    world: World, q: Callable[[str], str]
) -> None:
    for name in ("q1", "q2", "q3", "q4"):
        queue(q(name))
    server = world.start_server(
        rules=[VISIBILITY_RULE],
        runbooks={"directories": [str(EXAMPLES)], "verify_timeout_minutes": 0.05, "verify_poll_seconds": 1.0},
        circuit_breaker={"max_bad_runs": 2, "window_minutes": 60, "scopes": ["runbook"]},
    )
    for name in ("q1", "q2"):  # the alerts keep firing: each run is ineffective and rolled back
        send(server, alert("ConsumerSlow", service=f"svc-{name}", queue=q(name)))
    world.wait_for(lambda: len(runs(world, "ineffective")) == 2, what="two ineffective runs")
    [circuit] = world.wait_for(lambda: world.rows(Circuit), what="the circuit to open")
    assert circuit.scope == f"runbook:{VISIBILITY}" and circuit.closed_at is None
    world.wait_for(
        lambda: any(
            "Automation paused" in e["payload"]["summary"] for e in world.pagerduty.events if "payload" in e
        ),
        what="PagerDuty to be told",
    )
    world.wait_for(
        lambda: any("circuit open" in m.text for m in world.slack.messages("C0INCIDENTS")),
        what="Slack to be told",
    )

    send(server, alert("ConsumerSlow", service="svc-q3", queue=q("q3")))
    paused = world.wait_for(
        lambda: [i for i in world.rows(Incident) if i.resource_id == q("q3") and i.decision],
        what="the decision on the third incident",
    )
    assert paused[0].decision == "no_action"
    assert paused[0].decision_reason.startswith(f"no action: circuit open: runbook:{VISIBILITY} paused")
    assert visibility(q("q3")) == 30 and len(runs(world)) == 2

    done = conductor(world, "runbooks", "resume", VISIBILITY)
    assert "closed" in done.stdout
    send(server, alert("ConsumerSlow", service="svc-q4", queue=q("q4")))
    world.wait_for(lambda: visibility(q("q4")) == 600, what="automation to act again after resume")
    world.wait_for(
        lambda: any(
            e.get("event_action") == "resolve" and "circuit" in e.get("dedup_key", "")
            for e in world.pagerduty.events
        ),
        what="the circuit page to resolve",
    )


def test_suggest_mode_does_not_act_until_a_responder_runs_it(world: World, q: Callable[[str], str]) -> None:
    url = queue(q("orders-incidents"))
    server = world.start_server(rules=[{**NOTIFY_RULE, "mode": "suggest"}])
    send(server, alert("CheckoutErrors", service="orders", notify=q("orders-incidents")))
    [suggestion] = world.wait_for(lambda: runs(world, "suggested"), what="the suggestion")
    [incident] = world.wait_for(lambda: world.rows(Incident, Incident.decision != ""), what="the decision")
    assert incident.decision == "suggest"
    buttons = world.wait_for(
        lambda: [
            e
            for m in world.slack.messages("C0INCIDENTS")
            for r in world.slack.thread("C0INCIDENTS", m.ts)
            for b in r.blocks
            for e in b.get("elements", [])
            if e.get("action_id") == "conductor_run_suggestion"
        ],
        what="the Run it button in the incident's thread",
    )
    assert buttons[0]["value"] == str(suggestion.id)
    assert received(url) == [] and len(runs(world)) == 1  # nothing acted

    taken = httpx.post(f"{server.url}/api/runs/{suggestion.id}/run", headers=TOKEN, timeout=30)
    assert taken.status_code == 200, taken.text
    world.wait_for(lambda: received(url), what="the message once a responder ran it")
