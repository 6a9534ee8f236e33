"""Replayed signed Slack requests (issue 13, finding 12): a captured, validly signed `/conductor`
request that changes state is handled once — also when the copy reaches another replica."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.http.app import create_app
from bot.slack.replay import REMEMBER_FOR, SeenRequests
from bot.store.db import Store
from bot.store.models import Incident, Silence
from tests.engine.conftest import SettableClock
from tests.fakes.slack import FakeSlack, block_actions_body, sign_request, slash_command_body
from tests.slack.rig import SECRET, SlackRig, eventually, make_slack_runtime, slack_env


@pytest.fixture
def rig(data_dir: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackRig]:
    slack_env(monkeypatch, fake_slack)
    runtime, system = make_slack_runtime(data_dir)
    yield SlackRig(runtime, fake_slack, system)
    runtime.store.dispose()


@pytest.fixture
def client(rig: SlackRig) -> Iterator[TestClient]:
    with TestClient(create_app(rig.runtime)) as test_client:
        yield test_client


def silences(rig: SlackRig) -> list[Silence]:
    with rig.runtime.store.sessions() as session:
        return list(session.scalars(select(Silence)))


def test_a_signed_silence_replayed_three_times_makes_one_silence(client: TestClient, rig: SlackRig) -> None:
    body = slash_command_body("silence alertname=HighCPU 2h deploy", response_url=rig.fake.response_url("s"))
    captured = sign_request(SECRET, body, timestamp=int(time.time()))
    for _ in range(4):  # the original and three replays, well within Slack's five minutes
        assert client.post("/slack/events", content=body, headers=captured).status_code == 200
    eventually(lambda: rig.fake.responses("s"))
    assert len(silences(rig)) == 1
    refused = rig.audit(actor="slack:U0ALICE", action="slack.refused")
    assert len(refused) == 3 and all("replayed" in r.details["reason"] for r in refused)
    assert len(rig.fake.responses("s")) == 1  # the replays got no answer either


def test_a_replay_sent_to_another_replica_is_ignored_too(
    client: TestClient, rig: SlackRig, data_dir: Path
) -> None:
    incident_id = rig.add_incident()
    body = slash_command_body(f"ack {incident_id}", response_url=rig.fake.response_url("a"))
    captured = sign_request(SECRET, body)
    assert client.post("/slack/events", content=body, headers=captured).status_code == 200
    eventually(lambda: rig.incident(incident_id).status == "acknowledged")
    with rig.runtime.store.transaction() as session:  # someone re-opens it meanwhile
        incident = session.get(Incident, incident_id)
        assert incident is not None
        incident.status = "open"
    other, _system = make_slack_runtime(data_dir)  # a second replica on the same store
    try:
        with TestClient(create_app(other)) as second:
            assert second.post("/slack/events", content=body, headers=captured).status_code == 200
    finally:
        other.store.dispose()
    assert rig.incident(incident_id).status == "open"
    assert [r.details["reason"] for r in rig.audit(action="slack.refused")] == [
        "replayed: this signed request was already handled"
    ]


def test_read_commands_and_fresh_requests_are_not_affected(client: TestClient, rig: SlackRig) -> None:
    body = slash_command_body("status", response_url=rig.fake.response_url("r"))
    captured = sign_request(SECRET, body)
    for _ in range(2):  # reading twice changes nothing, so a replayed read is answered
        assert client.post("/slack/events", content=body, headers=captured).status_code == 200
    eventually(lambda: len(rig.fake.responses("r")) == 2)
    for key in ("x", "y"):  # the same command signed afresh is a new request
        fresh = slash_command_body("silence alertname=HighCPU 1h", response_url=rig.fake.response_url(key))
        assert (
            client.post("/slack/events", content=fresh, headers=sign_request(SECRET, fresh)).status_code
            == 200
        )
        eventually(lambda key=key: rig.fake.responses(key))
    assert len(silences(rig)) == 2
    assert rig.audit(action="slack.refused") == []


def test_a_replayed_button_press_is_ignored(client: TestClient, rig: SlackRig) -> None:
    body = block_actions_body(
        action_id="conductor_approve",
        value="cc1.x.y",
        user_id="U0BOB",
        channel_id="C0INCIDENTS",
        message_ts="1.2",
    )
    captured = sign_request(SECRET, body)
    for _ in range(2):
        assert client.post("/slack/events", content=body, headers=captured).status_code == 200
    # the first press reaches the listener (and is refused: no such approval); the copy does not
    refusals = eventually(
        lambda: (found := rig.audit(actor="slack:U0BOB", action="slack.refused"))[1:] and found
    )
    assert sorted(r.details["reason"] for r in refusals) == [
        "replayed: this signed request was already handled",
        "the button does not belong to a known approval",
    ]


def test_seen_requests_are_kept_in_the_store_and_expire(store: Store) -> None:
    clock = SettableClock()
    seen = SeenRequests(store, clock)
    assert seen.first_time("v0=abc", "1795402920") is True
    assert SeenRequests(store, clock).first_time("v0=abc", "1795402920") is False  # any instance
    assert seen.first_time("v0=abd", "1795402920") is True
    clock.advance(seconds=(REMEMBER_FOR + timedelta(seconds=1)).total_seconds())
    assert seen.first_time("v0=new", "1795403600") is True  # and the old rows are purged
    assert seen.first_time("v0=abc", "1795402920") is True
