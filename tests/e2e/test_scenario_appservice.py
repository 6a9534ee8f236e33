"""Scenario 3: an Azure metric alert for an App Service -> diagnose in Log Analytics -> with the
out-of-memory pattern, ask for approval in Slack; an allowed approver's signed button press restarts
the app and the resolved alert closes the incident; without the pattern, report "investigate"."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.store.models import AuditRecord, Incident, RunbookRun
from tests.e2e.world import SLACK_SIGNING_SECRET, WORKSPACE, World, post
from tests.fakes.azure_arm import FakeSite
from tests.fakes.slack import FakeMessage, block_actions_body, sign_request

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
SUB, RG, SITE = "5b1d6f9e-2c3a-4d8b-9e7f-0a1b2c3d4e5f", "shop-prod", "shop-web"
SITE_URI = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Web/sites/{SITE}"
CHANNEL = "C0INCIDENTS"
RULE = {
    "name": "restart failing App Services",
    "match": [{"name": "source", "value": "azure"}, {"name": "resource_type", "value": "web:site"}],
    "runbook": "azure.appservice.restart",
    "target": "azure:web:site/{resource.id}",
}
APPROVERS = {"approvers": {"risk:medium": {"users": ["U0APPROVER"]}}}


def alert(state: str) -> bytes:
    payload: dict[str, Any] = json.loads(
        (FIXTURES / f"azure_monitor__metric_alert_app_service_http5xx_{state}.json").read_text()
    )
    payload["data"]["essentials"]["firedDateTime"] = datetime.now(UTC).isoformat()
    return json.dumps(payload).encode()


def http5xx_history(world: World) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    points = []
    # more than a day of history: before about 250 points a series' calibration cannot call anything
    # rarer than one in a few hundred, and a value beyond the range only counts once a day defined it
    for i in range(400):
        value = 3 + 2 * math.sin(i / 12.0) + (i % 5) / 5
        points.append((end - timedelta(minutes=5 * (399 - i)), 400.0 if i >= 396 else value))
    world.azure_metrics.add(SITE_URI, "Http5xx", points, unit="Count")


def parent_message(world: World) -> FakeMessage:
    def find() -> FakeMessage | None:
        messages = world.slack.messages(CHANNEL)
        return messages[0] if messages else None

    return world.wait_for(find, what="the incident's Slack message")


def button(message: FakeMessage, action_id: str) -> dict[str, Any]:
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return {"value": element["value"], "block_id": block.get("block_id", "")}
    raise AssertionError(f"no {action_id} button in {message.blocks}")


def press(world: World, server: Any, message: FakeMessage, user: str) -> httpx.Response:
    found = button(message, "conductor_approve")
    body = block_actions_body(
        action_id="conductor_approve",
        value=found["value"],
        user_id=user,
        channel_id=CHANNEL,
        message_ts=message.ts,
        block_id=found["block_id"],
        response_url=f"{world.slack.url}/response/click",
    )
    return httpx.post(
        f"{server.url}/slack/events",
        content=body,
        headers=sign_request(SLACK_SIGNING_SECRET, body),
        timeout=30,
    )


def test_oom_pattern_asks_for_approval_and_an_approved_restart_resolves(world: World) -> None:
    world.arm.sites[SITE] = FakeSite(subscription=SUB, resource_group=RG, name=SITE)
    world.logs.set_errors(
        WORKSPACE,
        [("System.OutOfMemoryException: Insufficient memory", 17), ("System.TimeoutException: upstream", 4)],
    )
    http5xx_history(world)
    server = world.start_server(rules=[RULE], approvals=APPROVERS)
    assert post(server, "/webhooks/azure", alert("Fired")).status_code == 202
    [run] = world.wait_for(
        lambda: world.rows(RunbookRun, RunbookRun.status == "awaiting_approval"),
        what="the restart to wait for approval",
    )
    assert run.plan["calls"][0]["operation"] == "WebApps.Restart"

    def with_buttons() -> FakeMessage | None:
        current = parent_message(world)
        return current if button_present(current) else None

    message = world.wait_for(with_buttons, what="approval buttons")

    # someone not allowed presses Approve: refused privately, nothing changes, the attempt is audited
    assert press(world, server, message, "U0MALLORY").status_code == 200
    world.wait_for(
        lambda: world.slack.ephemerals(user="U0MALLORY") or world.slack.responses("click"), what="the refusal"
    )
    assert world.arm.restarts[SITE] == 0
    assert world.rows(RunbookRun)[0].status == "awaiting_approval"
    refusals = world.rows(AuditRecord, AuditRecord.action == "approval.refused")
    assert [r.actor for r in refusals] == ["slack:U0MALLORY"]

    # the allowed approver presses Approve: the app restarts once, the buttons give way to who decided
    assert press(world, server, message, "U0APPROVER").status_code == 200
    world.wait_for(lambda: world.arm.restarts[SITE] == 1, what="the restart on the Azure fake")

    def decided() -> FakeMessage | None:
        current = world.slack.latest(CHANNEL, message.ts)
        return None if button_present(current) else current

    updated = world.wait_for(decided, what="the buttons to be replaced")
    assert any("U0APPROVER" in text for text in updated.block_texts())

    assert post(server, "/webhooks/azure", alert("Resolved")).status_code == 202
    world.wait_for(lambda: world.rows(Incident)[0].status == "resolved", what="the incident to resolve")
    world.wait_for(lambda: world.rows(RunbookRun)[0].status == "succeeded", what="the run to be verified")
    assert world.arm.restarts[SITE] == 1


def test_without_the_pattern_it_reports_investigate_and_restarts_nothing(world: World) -> None:
    world.arm.sites[SITE] = FakeSite(subscription=SUB, resource_group=RG, name=SITE)
    world.logs.set_errors(
        WORKSPACE,
        [("System.NullReferenceException: basket was null", 40), ("SqlException: deadlock victim", 6)],
    )
    http5xx_history(world)
    server = world.start_server(rules=[RULE], approvals=APPROVERS)
    assert post(server, "/webhooks/azure", alert("Fired")).status_code == 202
    [run] = world.wait_for(
        lambda: world.rows(RunbookRun, RunbookRun.status == "succeeded"), what="the diagnosis"
    )
    assert run.result["details"]["verdict"] == "investigate"
    assert "NullReferenceException" in json.dumps(run.result)
    incident = world.wait_for(
        lambda: next((i for i in world.rows(Incident) if i.decision), None), what="the decision"
    )
    assert "investigate" in incident.decision_reason or "nothing to change" in incident.decision_reason
    assert world.arm.restarts[SITE] == 0


def button_present(message: FakeMessage) -> bool:
    return any(
        e.get("action_id") == "conductor_approve" for b in message.blocks for e in b.get("elements", [])
    )
