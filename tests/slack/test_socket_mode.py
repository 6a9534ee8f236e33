"""Socket Mode end to end on 127.0.0.1: the SDK asks the fake Web API for a URL
(apps.connections.open), connects to the local websockets server, gets `hello` and an
envelope, and acks it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode.builtin import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from tests.fakes.slack import FakeSlack
from tests.fakes.slack_socket import FakeSocketModeServer, events_api_envelope, slash_command_envelope


@pytest.fixture
def sdk_client(fake_slack: FakeSlack, socket_server: FakeSocketModeServer) -> Iterator[SocketModeClient]:
    client = SocketModeClient(
        app_token=fake_slack.app_token,
        web_client=WebClient(base_url=fake_slack.api_url),
        auto_reconnect_enabled=False,
    )
    yield client
    socket_server.stop()  # server side first: see FakeSocketModeServer.stop
    close_after_server(client)


def close_after_server(client: SocketModeClient) -> None:
    """Close an SDK client whose server has gone. Its receiver thread notices the closed socket and
    tears the session down itself; wait for that, because the builtin client's `close` racing it
    can find the socket gone between its own check and use (AttributeError inside slack_sdk)."""
    deadline = time.monotonic() + 3
    while client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.01)
    with contextlib.suppress(AttributeError):  # the race above, if the receiver is still mid-way
        client.close()


def test_sdk_client_receives_and_acks(
    sdk_client: SocketModeClient, fake_slack: FakeSlack, socket_server: FakeSocketModeServer
) -> None:
    seen: list[SocketModeRequest] = []
    got = threading.Event()

    def listener(client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        seen.append(request)
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        got.set()

    sdk_client.socket_mode_request_listeners.append(listener)
    sdk_client.connect()
    socket_server.wait_connected()
    envelope_id = socket_server.send(events_api_envelope({"type": "app_mention", "text": "hi"}))

    assert socket_server.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}
    assert got.wait(5)
    assert seen[0].type == "events_api"
    assert seen[0].payload["event"]["text"] == "hi"
    [opened] = fake_slack.api_calls("apps.connections.open")
    assert opened.token == fake_slack.app_token
    assert "ticket=fake-ticket" in socket_server.paths[0]


def test_bolt_app_in_socket_mode_acks_a_slash_command(
    fake_slack: FakeSlack, socket_server: FakeSocketModeServer
) -> None:
    """The recipe for the real wiring: an App with its client on the fake, then SocketModeHandler."""
    web = WebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)
    app = App(client=web, signing_secret="unused-in-socket-mode")  # the constructor calls auth.test
    assert fake_slack.api_calls("auth.test")

    @app.command("/conductor")
    def conductor(ack: Ack, command: dict[str, str]) -> None:
        ack(f"got: {command['text']}")

    handler = SocketModeHandler(
        app, app_token=fake_slack.app_token, web_client=WebClient(base_url=fake_slack.api_url)
    )
    handler.client.auto_reconnect_enabled = False
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        envelope_id = socket_server.send(slash_command_envelope("status"))
        ack = socket_server.wait_for_ack(envelope_id)
    finally:
        socket_server.stop()
        close_after_server(handler.client)
    assert ack["payload"] == {"text": "got: status"}
