"""A downstream consumer of `webhook.post`: an HTTPS endpoint that checks the signature.

    with WebhookReceiver(tls=test_tls.server_context, secret=b"k") as receiver:
        ... post to f"{receiver.url}/hooks/incidents" ...
        assert receiver.messages[0]["severity"] == "critical"

A delivery whose signature does not verify gets 401 and is not kept in `messages`; `fail_next`
answers the next deliveries with an error status (a consumer having a bad minute).
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from typing import Any

from integrations.downstream.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from tests.fakes.http_server import FakeService, RecordedRequest, Reply

PATH = "/hooks/incidents"


class WebhookReceiver(FakeService):
    def __init__(self, *, tls: ssl.SSLContext | None, secret: bytes) -> None:
        super().__init__(tls=tls)
        self.secret = secret
        self.messages: list[dict[str, Any]] = []
        self._failures: list[int] = []
        self._delay = 0.0
        self._state = threading.Lock()
        self.route("POST", PATH)(self._deliver)

    @property
    def endpoint_url(self) -> str:
        return self.url + PATH

    def reset(self) -> None:
        super().reset()
        with self._state:
            self.messages.clear()
            self._failures.clear()
            self._delay = 0.0

    def fail_next(self, status: int, *, times: int = 1) -> None:
        with self._state:
            self._failures.extend([status] * times)

    def stall(self, seconds: float) -> None:
        """Answer every delivery only after `seconds` (to exercise the client's timeout)."""
        with self._state:
            self._delay = seconds

    def _deliver(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        with self._state:
            delay = self._delay
            failure = self._failures.pop(0) if self._failures else None
        if delay:
            time.sleep(delay)
        if failure is not None:
            return Reply(failure, {"error": "injected"})
        ok = verify_signature(
            self.secret,
            timestamp=req.headers.get(TIMESTAMP_HEADER.lower(), ""),
            body=req.body,
            signature=req.headers.get(SIGNATURE_HEADER.lower(), ""),
            now=time.time(),
        )
        if not ok:
            return Reply(401, {"error": "bad signature"})
        with self._state:
            self.messages.append(req.json())
        return Reply(204)
