"""Socket Mode end to end: `conductor serve`'s runtime with an app token connects to a local
websocket server (the URL comes from the fake's apps.connections.open) and handles envelopes
through the same listeners and core as HTTP mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.http.app import create_app
from integrations.slack.socket_mode import SocketModeService
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_socket import FakeSocketModeServer, block_actions_envelope, slash_command_envelope
from tests.slack.rig import SlackRig, eventually, make_slack_runtime, slack_env


@pytest.fixture
def rig(
    data_dir: Path,
    fake_slack: FakeSlack,
    socket_server: FakeSocketModeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SlackRig]:
    slack_env(monkeypatch, fake_slack, socket=True)
    runtime, system = make_slack_runtime(data_dir)
    yield SlackRig(runtime, fake_slack, system)
    runtime.store.dispose()


def test_socket_mode_handles_a_slash_command_end_to_end(
    rig: SlackRig, socket_server: FakeSocketModeServer
) -> None:
    socket_mode = rig.wiring.socket_mode
    assert isinstance(socket_mode, SocketModeService)
    assert rig.runtime.http_extensions == []  # no public endpoint in Socket Mode
    incident_id = rig.add_incident()
    rig.runtime.start_background()
    try:
        assert socket_mode.wait_connected(5)
        envelope = slash_command_envelope(
            f"ack {incident_id}", user_id="U0ALICE", response_url=rig.fake.response_url("socket")
        )
        acked = socket_server.wait_for_ack(socket_server.send(envelope))
        assert acked["envelope_id"] == envelope["envelope_id"]
        [reply] = eventually(lambda: rig.fake.responses("socket"))
        assert reply["response_type"] == "ephemeral"
        assert ":eyes: acknowledged by <@U0ALICE>" in json.dumps(reply["blocks"])
        assert rig.incident(incident_id).acknowledged_by == "slack:U0ALICE"
        assert rig.audit(actor="slack:U0ALICE", action="incident.acknowledged")

        # A click with a forged value, over the websocket: refused to the clicker alone, audited.
        click = block_actions_envelope(
            action_id="conductor_approve", value="cc1.forged.x", user_id="U0MALLORY"
        )
        socket_server.wait_for_ack(socket_server.send(click))
        [refusal] = eventually(lambda: rig.fake.ephemerals(user="U0MALLORY"))
        assert "not valid" in refusal.text
        assert rig.audit(actor="slack:U0MALLORY", action="slack.refused")
        [opened] = rig.fake.api_calls("apps.connections.open")
        assert opened.token == rig.fake.app_token
    finally:
        socket_server.stop()  # server side first, so the SDK client closes at once
        rig.runtime.stop_background(grace=5)
    assert not socket_mode.connected


def test_no_http_route_in_socket_mode(rig: SlackRig) -> None:
    with TestClient(create_app(rig.runtime, background=False)) as client:
        assert client.post("/slack/events", content=b"x").status_code in (404, 405)
