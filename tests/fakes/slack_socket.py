"""A local Socket Mode endpoint: a `websockets` server on 127.0.0.1:0.

Slack's protocol, as the SDK clients expect it: the client gets this server's URL from
`apps.connections.open` (set `FakeSlack.socket_url = server.url`), connects, receives `hello`,
then envelopes (`{"envelope_id", "type", "payload", "accepts_response_payload"}`), and answers
each with an ack `{"envelope_id": ..., "payload"?: ...}`, which the server records.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import threading
from typing import Any
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.fakes.slack import TEAM_ID, block_actions_payload

HELLO = {
    "type": "hello",
    "num_connections": 1,
    "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 3600},
    "connection_info": {"app_id": "A0CONDUCTOR"},
}
_ids = itertools.count(1)


def _envelope(kind: str, payload: dict[str, Any], *, accepts_response_payload: bool) -> dict[str, Any]:
    return {
        "envelope_id": f"env-{next(_ids):04d}",
        "type": kind,
        "payload": payload,
        "accepts_response_payload": accepts_response_payload,
        "retry_attempt": 0,
        "retry_reason": "",
    }


def slash_command_envelope(
    text: str,
    *,
    user_id: str = "U0ALICE",
    channel_id: str = "C0INCIDENTS",
    response_url: str = "https://hooks.slack.com/commands/T0FAKE/1/x",
    command: str = "/conductor",
) -> dict[str, Any]:
    payload = {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "fake-workspace",
        "channel_id": channel_id,
        "channel_name": "incidents",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0CONDUCTOR",
        "response_url": response_url,
        "trigger_id": "1337.42.abcdef",
    }
    return _envelope("slash_commands", payload, accepts_response_payload=True)


def block_actions_envelope(**kwargs: Any) -> dict[str, Any]:
    """Keyword arguments as for `tests.fakes.slack.block_actions_payload`."""
    return _envelope("interactive", block_actions_payload(**kwargs), accepts_response_payload=False)


def events_api_envelope(event: dict[str, Any]) -> dict[str, Any]:
    payload = {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0CONDUCTOR",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{next(_ids):08d}",
        "event_time": 1_700_000_000,
    }
    return _envelope("events_api", payload, accepts_response_payload=False)


class FakeSocketModeServer:
    def __init__(self) -> None:
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        self._cond = threading.Condition()
        self.received: list[Any] = []  # every message from the client, JSON decoded
        self.paths: list[str] = []  # request paths of the connections (carry the ticket)
        self._stopping = threading.Event()
        self._active = 0

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?" + urlencode({"ticket": "fake-ticket", "app_id": "A0CONDUCTOR"})

    def start(self) -> FakeSocketModeServer:
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name="FakeSocketMode", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the connections from the server side, then stop listening.

        Stop the server before closing an SDK client: the builtin client blocks up to 3 s in a
        socket read when it closes first, while a server-side close ends that read at once."""
        self._stopping.set()
        with self._cond:
            self._cond.wait_for(lambda: self._active == 0, timeout=2)
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def send(self, envelope: dict[str, Any]) -> str:
        """Queue an envelope for the connected client (sent right after `hello` if not yet
        connected). Returns its envelope id."""
        self._outgoing.put(envelope)
        return str(envelope["envelope_id"])

    @property
    def acks(self) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self.received if isinstance(m, dict) and "envelope_id" in m]

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Block until the client acks `envelope_id`; AssertionError after `timeout` seconds."""
        with self._cond:
            found = self._cond.wait_for(
                lambda: any(
                    isinstance(m, dict) and m.get("envelope_id") == envelope_id for m in self.received
                ),
                timeout=timeout,
            )
            assert found, f"no ack for {envelope_id} within {timeout}s; received {self.received}"
            return next(
                m for m in self.received if isinstance(m, dict) and m.get("envelope_id") == envelope_id
            )

    def wait_connected(self, timeout: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: bool(self.paths), timeout=timeout), "no client connected"

    def _handle(self, connection: ServerConnection) -> None:
        with self._cond:
            self.paths.append(connection.request.path if connection.request else "")
            self._active += 1
            self._cond.notify_all()
        try:
            connection.send(json.dumps(HELLO))
            while not self._stopping.is_set():
                with contextlib.suppress(queue.Empty):
                    connection.send(json.dumps(self._outgoing.get_nowait()))
                try:
                    raw = connection.recv(timeout=0.05)
                except TimeoutError:
                    continue
                try:
                    message: Any = json.loads(raw)
                except ValueError:
                    message = raw
                with self._cond:
                    self.received.append(message)
                    self._cond.notify_all()
            connection.close()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()
