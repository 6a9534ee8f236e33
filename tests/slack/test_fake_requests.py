"""The request builders in tests.fakes.slack produce what Bolt accepts (and refuses)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient

from tests.fakes.slack import FakeSlack, block_actions_body, sign_request, slash_command_body

SECRET = "test-signing-secret"
PAYLOADS = Path("/work/shared/payloads")


@pytest.fixture
def app(fake_slack: FakeSlack) -> App:
    app = App(
        client=WebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url), signing_secret=SECRET
    )

    @app.command("/conductor")
    def conductor(ack: Ack, command: dict[str, Any]) -> None:
        ack(f"text={command['text']} user={command['user_id']}")

    @app.action("conductor_approve")
    def approve(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        app.client.chat_postEphemeral(
            channel=body["channel"]["id"], user=body["user"]["id"], text=body["actions"][0]["value"]
        )

    return app


def _dispatch(app: App, body: bytes, headers: dict[str, str]) -> Any:
    return app.dispatch(BoltRequest(body=body.decode(), headers={k: [v] for k, v in headers.items()}))


def test_signed_slash_command_is_accepted(app: App) -> None:
    body = slash_command_body("status", user_id="U0ALICE")
    response = _dispatch(app, body, sign_request(SECRET, body))
    assert response.status == 200
    assert response.body == "text=status user=U0ALICE"


@pytest.mark.parametrize(
    ("secret", "age"),
    [
        pytest.param("wrong-secret", 0, id="forged"),
        pytest.param(SECRET, 301, id="stale"),
    ],
)
def test_forged_or_stale_requests_get_401(app: App, secret: str, age: int) -> None:
    body = slash_command_body("status")
    response = _dispatch(app, body, sign_request(secret, body, timestamp=int(time.time()) - age))
    assert response.status == 401


def test_block_actions_body(app: App, fake_slack: FakeSlack) -> None:
    body = block_actions_body(action_id="conductor_approve", value="cc1.x.y", user_id="U0BOB")
    response = _dispatch(app, body, sign_request(SECRET, body))
    assert response.status == 200
    # Bolt runs the rest of the listener after the ack, on its own thread.
    deadline = time.monotonic() + 5
    while not fake_slack.ephemerals(user="U0BOB") and time.monotonic() < deadline:
        time.sleep(0.01)
    [eph] = fake_slack.ephemerals(user="U0BOB")
    assert eph.text == "cc1.x.y"


def test_sign_request_matches_slacks_documented_vector() -> None:
    vector = json.loads(
        (PAYLOADS / "slack__slash_command_signed_request_test_vector_slack_docs.json").read_text()
    )
    headers = sign_request(vector["signing_secret"], vector["raw_body"].encode(), timestamp=1531420618)
    assert headers["X-Slack-Signature"] == vector["request_headers"]["X-Slack-Signature"]
