"""`/slack/events` on the running app: signed requests over HTTP through Bolt's Starlette adapter,
into the real core (SQLite store, run engine, workers), with Slack itself the recording fake."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.engine.requests import RunRequest
from bot.http.app import create_app
from bot.store.models import Approval, ApprovalVote, Incident, RunbookRun, Silence
from tests.fakes.slack import FakeSlack, block_actions_body, sign_request, slash_command_body
from tests.slack.rig import (
    BUMP,
    INCIDENTS,
    PAYMENTS,
    RISKY,
    SECRET,
    SlackRig,
    button_value,
    eventually,
    has_buttons,
    make_slack_runtime,
    slack_env,
    text_of,
)

APPROVE, DENY = "conductor_approve", "conductor_deny"


@pytest.fixture
def rig(data_dir: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackRig]:
    slack_env(monkeypatch, fake_slack)
    fake_slack.usergroups["S0SRE"] = ["U0DAVE"]
    runtime, system = make_slack_runtime(data_dir)
    yield SlackRig(runtime, fake_slack, system)
    runtime.store.dispose()


@pytest.fixture
def client(rig: SlackRig) -> Iterator[TestClient]:
    with TestClient(create_app(rig.runtime)) as test_client:  # the lifespan starts the workers
        yield test_client


_replies = iter(range(1, 1_000_000))


def post(client: TestClient, body: bytes, *, secret: str = SECRET, age: int = 0) -> Any:
    headers = sign_request(secret, body, timestamp=int(time.time()) - age)
    return client.post("/slack/events", content=body, headers=headers)


def command(client: TestClient, fake: FakeSlack, text: str, *, user: str = "U0ALICE") -> str:
    """Send `/conductor TEXT` and return the visible text of the ephemeral answer."""
    key = f"r{next(_replies)}"
    response = post(client, slash_command_body(text, user_id=user, response_url=fake.response_url(key)))
    assert response.status_code == 200
    [reply] = eventually(lambda: fake.responses(key))
    assert reply["response_type"] == "ephemeral"
    return "\n".join(_texts(reply["blocks"]))


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text"):
            yield node["text"]
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def click(
    client: TestClient, *, user: str, value: str, channel: str, ts: str, action_id: str = APPROVE
) -> None:
    body = block_actions_body(
        action_id=action_id, value=value, user_id=user, channel_id=channel, message_ts=ts
    )
    assert post(client, body).status_code == 200


def _votes(rig: SlackRig, run_id: int) -> list[tuple[str, str]]:
    with rig.runtime.store.sessions() as session:
        approval = session.scalars(select(Approval).where(Approval.run_id == run_id)).one()
        rows = session.scalars(select(ApprovalVote).where(ApprovalVote.approval_id == approval.id))
        return [(v.user, v.decision) for v in rows]


def _run(rig: SlackRig, run_id: int) -> RunbookRun:
    with rig.runtime.store.sessions() as session:
        run = session.get(RunbookRun, run_id)
        assert run is not None
        return run


def test_read_commands(client: TestClient, rig: SlackRig) -> None:
    incident_id = rig.add_incident()
    status = command(client, rig.fake, "status")
    assert "*Open incidents* 1 · *Pending approvals* 0 · *Runs in flight* 0" in status
    assert "• slack: :large_green_circle: ok — on (http mode)" in status
    assert f"`{incident_id}` High CPU on prod/api · open" in command(client, rig.fake, "incidents")
    assert "CPU 97% vs 41% typical" in command(client, rig.fake, f"show {incident_id}")
    assert f"`{RISKY}`" in command(client, rig.fake, "runbooks")
    assert rig.audit(actor="slack:U0ALICE") == []


def test_ack_is_audited_as_the_slack_user_and_lands_in_the_incident_thread(
    client: TestClient, rig: SlackRig
) -> None:
    incident_id = rig.add_incident()
    assert ":eyes: acknowledged by <@U0ALICE>" in command(client, rig.fake, f"ack {incident_id}")
    stored = rig.incident(incident_id)
    assert (stored.status, stored.acknowledged_by) == ("acknowledged", "slack:U0ALICE")
    [record] = rig.audit(actor="slack:U0ALICE")
    assert (record.subject, record.action) == (f"incident:{incident_id}", "incident.acknowledged")
    # The incident.event job reaches the reporter: parent in the routed channel, note in its thread.
    [parent] = eventually(lambda: rig.fake.messages(PAYMENTS))
    eventually(lambda: [m for m in rig.fake.thread(PAYMENTS, parent.ts) if "Acknowledged by" in m.text])
    again = command(client, rig.fake, f"ack {incident_id}")
    assert "only an open incident can be acknowledged" in again
    assert len(rig.audit(actor="slack:U0ALICE")) == 1


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("frobnicate", "unknown command `frobnicate`", id="unknown"),
        pytest.param("", "/conductor run RUNBOOK TARGET", id="empty-is-help"),
        pytest.param("ack", "takes exactly one incident id", id="malformed"),
        pytest.param("show 999", "no incident 999", id="not-found"),
        pytest.param(f"run {RISKY} nope:kind/x", "unknown kind", id="bad-target"),
        pytest.param("run no.such.runbook jira:project/OPS", "see `/conductor runbooks`", id="no-runbook"),
        pytest.param(f"run {RISKY} jira:project/OPS level=lots", "parameters", id="bad-params"),
    ],
)
def test_malformed_input_gets_help_never_a_stack_trace(
    client: TestClient, rig: SlackRig, text: str, shown: str
) -> None:
    reply = command(client, rig.fake, text)
    assert shown in reply
    assert "Traceback" not in reply
    assert rig.audit(actor="slack:U0ALICE") == []


@pytest.mark.parametrize(
    ("secret", "age"),
    [pytest.param("not-the-secret", 0, id="forged"), pytest.param(SECRET, 6 * 60, id="stale")],
)
def test_forged_or_stale_requests_get_401_and_change_nothing(
    client: TestClient, rig: SlackRig, secret: str, age: int
) -> None:
    incident_id = rig.add_incident()
    body = slash_command_body(f"ack {incident_id}", response_url=rig.fake.response_url("forged"))
    assert post(client, body, secret=secret, age=age).status_code == 401
    unsigned = client.post(
        "/slack/events", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert unsigned.status_code == 401
    assert rig.incident(incident_id).status == "open"
    assert rig.audit(actor="slack:U0ALICE") == []
    assert rig.fake.responses("forged") == []


def test_a_run_requested_in_slack_goes_through_the_approval_policy(client: TestClient, rig: SlackRig) -> None:
    reply = command(client, rig.fake, f"run {RISKY} jira:project/OPS level=3")
    with rig.runtime.store.sessions() as session:
        run = session.scalars(select(RunbookRun)).one()
    assert f"awaits approval (run `{run.id}`)" in reply
    assert (run.status, run.requested_by) == ("awaiting_approval", "slack:U0ALICE")
    assert rig.audit(actor="slack:U0ALICE", action="run.planned")

    [parent] = eventually(lambda: [m for m in rig.fake.messages(INCIDENTS) if has_buttons(m)])
    value = button_value(parent, APPROVE)

    # A non-approver and the requester are refused, alone, and the refusal is audited.
    for user, why in (("U0MALLORY", "not an allowed approver"), ("U0ALICE", "requested this run")):
        click(client, user=user, value=value, channel=INCIDENTS, ts=parent.ts)
        [refusal] = eventually(partial(rig.fake.ephemerals, user=user))
        assert "You may not decide this approval" in refusal.text and why in refusal.text
    assert _votes(rig, run.id) == []
    assert len(rig.audit(action="approval.refused")) == 2

    # Bob is listed; the parent shows quorum progress in place.
    click(client, user="U0BOB", value=value, channel=INCIDENTS, ts=parent.ts)
    eventually(lambda: "1/2 approvals (<@U0BOB>)" in text_of(rig.fake.latest(INCIDENTS, parent.ts)))
    # Dave approves through the Slack user group S0SRE: quorum reached, the run executes.
    click(client, user="U0DAVE", value=value, channel=INCIDENTS, ts=parent.ts)
    eventually(lambda: rig.system.values == {"jira:project/OPS": 3})
    assert _votes(rig, run.id) == [("slack:U0BOB", "approve"), ("slack:U0DAVE", "approve")]
    assert rig.fake.api_calls("usergroups.users.list")
    latest = eventually(lambda: (m := rig.fake.latest(INCIDENTS, parent.ts)) and not has_buttons(m) and m)
    assert "*Approved* by <@U0BOB>" in text_of(latest) and "<@U0DAVE>" in text_of(latest)
    assert rig.fake.ephemerals(user="U0BOB") == [] and rig.fake.ephemerals(user="U0DAVE") == []


def test_a_button_value_replayed_onto_another_run_is_refused(client: TestClient, rig: SlackRig) -> None:
    runs = []
    for title, target in (("CPU on api", "jira:project/OPS"), ("CPU on web", "jira:project/WEB")):
        incident_id = rig.add_incident(title=title)
        outcome = rig.runtime.engine.request(
            RunRequest(RISKY, target, {"level": 2}, incident_id=incident_id, requested_by="rule:cpu")
        )
        assert outcome.run_id is not None
        runs.append((incident_id, outcome.run_id))
    eventually(lambda: all(rig.incident(i).slack_ts for i, _ in runs))  # both parents posted
    first, second = (rig.fake.latest(PAYMENTS, rig.incident(i).slack_ts) for i, _ in runs)
    eventually(lambda: has_buttons(rig.fake.latest(PAYMENTS, first.ts)))
    stolen = button_value(first, APPROVE)

    click(client, user="U0BOB", value=stolen, channel=PAYMENTS, ts=second.ts)  # replayed elsewhere
    tampered = stolen[:-3] + ("AAA" if not stolen.endswith("AAA") else "BBB")
    click(client, user="U0BOB", value=tampered, channel=PAYMENTS, ts=first.ts)
    click(client, user="U0BOB", value=stolen, channel=PAYMENTS, ts=first.ts, action_id=DENY)  # wrong button

    refusals = eventually(lambda: (found := rig.fake.ephemerals(user="U0BOB"))[2:] and found)
    assert all("That button is not valid for this run" in r.text for r in refusals)
    assert [_votes(rig, run_id) for _, run_id in runs] == [[], []]
    assert len(rig.audit(actor="slack:U0BOB", action="slack.refused")) == 3


def test_approve_and_deny_commands_show_quorum_progress(client: TestClient, rig: SlackRig) -> None:
    outcome = rig.runtime.engine.request(
        RunRequest(RISKY, "jira:project/OPS", {"level": 2}, requested_by="cli:ops", manual=True)
    )
    run_id = outcome.run_id
    assert run_id is not None
    assert "1/2 approvals (<@U0BOB>)" in command(client, rig.fake, f"approve {run_id}", user="U0BOB")
    assert "Already decided" in command(client, rig.fake, f"approve {run_id}", user="U0BOB")
    denied = command(client, rig.fake, f"deny run-{run_id} not during the release", user="U0CAROL")
    assert "*Denied* by <@U0CAROL>" in denied and "not during the release" in denied
    assert _run(rig, run_id).status == "rejected"
    assert rig.audit(actor="slack:U0CAROL", action="approval.denied")


def test_silences_from_slack(client: TestClient, rig: SlackRig) -> None:
    added = command(client, rig.fake, 'silence alertname=HighCPU service=~"pay.*" 2h deploy in progress')
    with rig.runtime.store.sessions() as session:
        silence = session.scalars(select(Silence)).one()
    assert f"Silence `{silence.id}`" in added
    assert (silence.created_by, silence.origin, silence.comment) == (
        "slack:U0ALICE",
        "slack",
        "deploy in progress",
    )
    assert silence.matchers == [
        {"name": "name", "op": "=", "value": "HighCPU"},
        {"name": "label:service", "op": "=~", "value": "pay.*"},
    ]
    assert 'label:service=~"pay.*"' in command(client, rig.fake, "silences")
    assert f"Silence `{silence.id}` expired" in command(client, rig.fake, f"unsilence {silence.id}")
    assert "No active silences." in command(client, rig.fake, "silences")
    assert [r.action for r in rig.audit(actor="slack:U0ALICE")] == ["silence.added", "silence.expired"]


def test_events_are_answered(client: TestClient, rig: SlackRig) -> None:
    challenge = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"}).encode()
    headers = sign_request(SECRET, challenge) | {"Content-Type": "application/json"}
    response = client.post("/slack/events", content=challenge, headers=headers)
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}

    parent = rig.fake._m_chat_postMessage({"channel": INCIDENTS, "text": "hello"})
    for event in (
        {
            "type": "app_mention",
            "user": "U0ALICE",
            "text": "<@U0CONDUCTOR> hi",
            "ts": parent["ts"],
            "channel": INCIDENTS,
        },
        {"type": "message", "user": "U0ALICE", "text": "chatter", "ts": "1.2", "channel": INCIDENTS},
    ):
        body = json.dumps(
            {"type": "event_callback", "team_id": "T0FAKE", "api_app_id": "A0", "event": event}
        ).encode()
        headers = sign_request(SECRET, body) | {"Content-Type": "application/json"}
        assert client.post("/slack/events", content=body, headers=headers).status_code == 200
    [reply] = eventually(lambda: rig.fake.thread(INCIDENTS, parent["ts"]))
    assert "/conductor help" in reply.text


def test_incident_rows_are_untouched_by_reads(client: TestClient, rig: SlackRig) -> None:
    incident_id = rig.add_incident()
    before = rig.incident(incident_id).updated_at
    command(client, rig.fake, f"show {incident_id}")
    with rig.runtime.store.sessions() as session:
        assert session.get(Incident, incident_id).updated_at == before  # type: ignore[union-attr]


def test_approvers_listed_by_bare_slack_id_and_no_self_approval(
    data_dir: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[approvals] users` may list Slack users as `U…` (as config.example.toml does); the
    requester is still refused, however the rule spells them."""
    slack_env(monkeypatch, fake_slack)
    approvals = {"approvers": {RISKY: {"users": ["U0ALICE", "U0ERIN"], "quorum": 1}}}
    runtime, system = make_slack_runtime(data_dir, approvals=approvals)
    rig = SlackRig(runtime, fake_slack, system)
    try:
        with TestClient(create_app(runtime)) as client:
            command(client, fake_slack, f"run {RISKY} jira:project/OPS level=4", user="U0ALICE")
            with runtime.store.sessions() as session:
                run_id = session.scalars(select(RunbookRun.id)).one()
            refused = command(client, fake_slack, f"approve {run_id}", user="U0ALICE")
            assert "requested this run and cannot approve it" in refused
            approved = command(client, fake_slack, f"approve {run_id}", user="U0ERIN")
            assert "*Approved* by <@U0ERIN>" in approved
            eventually(lambda: system.values == {"jira:project/OPS": 4})
        # the engine treats slack:U0ERIN and the rule's bare U0ERIN as one person
        assert _votes(rig, run_id) == [("slack:U0ERIN", "approve")]
        assert [r.actor for r in rig.audit(action="approval.refused")] == ["slack:U0ALICE"]
    finally:
        runtime.store.dispose()


def test_roles_decide_what_a_workspace_member_may_do(
    data_dir: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 5, as reported: any member could `/conductor silence alertname=~".*" 90d` (it muted
    the next 54 alerts), ack, resolve and run. Now: a plain member reads; a responder acts within
    the silence guardrails; an admin (here through a Slack user group) may mute everything."""
    slack_env(monkeypatch, fake_slack)
    fake_slack.usergroups["S0ADMINS"] = ["U0ERIN"]
    permissions = {"users": {"U0ALICE": "responder"}, "groups": {"S0ADMINS": "admin"}}
    runtime, system = make_slack_runtime(data_dir, permissions=permissions)
    rig = SlackRig(runtime, fake_slack, system)
    mute_all = 'silence alertname=~".*" 90d'
    try:
        with TestClient(create_app(runtime)) as client:
            incident_id = rig.add_incident()
            assert "*Open incidents* 1" in command(client, fake_slack, "status", user="U0MALLORY")
            for text in (
                mute_all,
                f"ack {incident_id}",
                f"resolve {incident_id}",
                f"run {BUMP} jira:project/OPS",
            ):
                reply = command(client, fake_slack, text, user="U0MALLORY")
                assert "You may not do that" in reply and "viewer role" in reply, text
            assert "only an admin may create it" in command(client, fake_slack, mute_all, user="U0ALICE")
            with runtime.store.sessions() as session:
                assert session.scalars(select(Silence)).all() == []
                assert session.scalars(select(RunbookRun)).all() == []
            assert rig.incident(incident_id).status == "open"
            refused = rig.audit(action="access.refused")
            assert [(r.actor, r.details["reason"]) for r in refused] == [
                *[("slack:U0MALLORY", "role_too_low")] * 4,
                ("slack:U0ALICE", "silence_matches_everything"),
            ]
            assert "Silence `" in command(client, fake_slack, mute_all, user="U0ERIN")
            assert ":eyes: acknowledged by <@U0ALICE>" in command(client, fake_slack, f"ack {incident_id}")
    finally:
        runtime.store.dispose()
