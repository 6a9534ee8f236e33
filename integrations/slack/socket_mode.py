"""Socket Mode for deployments without a public URL: the same Bolt app, fed over a websocket.

A background service (started and stopped with the server): `start` connects on a thread,
retrying with back-off while Slack cannot be reached, so `conductor serve` comes up and takes
webhooks regardless; once connected the SDK reconnects by itself. `stop` closes the connection.
"""

from __future__ import annotations

import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode.builtin import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.logs import get_logger

log = get_logger(__name__)


class SocketModeService:
    def __init__(
        self, app: App, *, app_token: str, api_url: str, first_delay: float = 1.0, max_delay: float = 60.0
    ) -> None:
        self.app = app
        self._app_token = app_token
        self._api_url = api_url
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._handler: SocketModeHandler | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"SocketModeService(api_url={self._api_url!r})"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        self._stopping.clear()
        # apps.connections.open takes the app-level token, not the bot token of `app.client`.
        self._handler = SocketModeHandler(
            self.app, app_token=self._app_token, web_client=WebClient(base_url=self._api_url, timeout=10)
        )
        self._thread = threading.Thread(target=self._connect, name="slack-socket-mode", daemon=True)
        self._thread.start()

    def _connect(self) -> None:
        handler = self._handler
        assert handler is not None
        delay = self._first_delay
        while not self._stopping.is_set():
            try:
                handler.client.connect_to_new_endpoint(force=True)
            except (SlackClientError, OSError) as exc:
                log.warning(
                    "slack: socket mode connection failed; retrying", error=str(exc), in_seconds=delay
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, self._max_delay)
                continue
            self._connected.set()
            log.info("slack: socket mode connected")
            return

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._handler is not None:
            try:
                self._handler.close()  # type: ignore[no-untyped-call]
            except (AttributeError, OSError, SlackClientError) as exc:
                # slack_sdk's builtin connection can lose its socket to a close from the other
                # side while closing it itself (AttributeError on None); stopping must not fail.
                log.warning("slack: socket mode did not close cleanly", error=f"{type(exc).__name__}: {exc}")
        self._connected.clear()
