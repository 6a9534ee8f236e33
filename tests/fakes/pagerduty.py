"""A recording fake of PagerDuty's Events API v2 (`POST /v2/enqueue`), over HTTPS.

The `pagerduty` client refuses non-https base URLs, so this fake always needs the test CA::

    with FakePagerDuty(tls=test_tls.server_context) as pd:
        settings = PagerDutySettings(events_base_url=pd.url, ca_bundle=test_tls.ca_path, ...)
        ...
        assert [e["event_action"] for e in pd.events] == ["trigger", "resolve"]

It validates like the real API (routing key, event_action, dedup_key, trigger payload) and
answers 202 `{"status": "success", "message": "Event processed", "dedup_key": ...}`.
`routing_keys`, when set, lists the keys the fake accepts (others get 400 like PagerDuty).
"""

from __future__ import annotations

import re
import ssl
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from tests.fakes.http_server import FakeService, RecordedRequest, Reply

ACTIONS = {"trigger", "acknowledge", "resolve"}
SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass
class _Failure:
    status: int
    body: Any
    headers: dict[str, str]
    times: int


def invalid(*errors: str) -> Reply:
    return Reply(
        400, {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}
    )


class FakePagerDuty(FakeService):
    """Records accepted events in `events` (dicts as sent) and tracks alert state by dedup key."""

    def __init__(self, *, tls: ssl.SSLContext, routing_keys: set[str] | None = None) -> None:
        super().__init__(tls=tls)
        self.routing_keys = routing_keys
        self.events: list[dict[str, Any]] = []
        self.alerts: dict[str, str] = {}  # dedup_key -> "triggered" | "acknowledged" | "resolved"
        self._failures: list[_Failure] = []
        self._state_lock = threading.Lock()
        self.route("POST", r"/v2/enqueue")(self._enqueue)

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self.events.clear()
            self.alerts.clear()
            self._failures.clear()

    def fail_next(
        self, status: int, *, body: Any = None, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` enqueue requests with `status`."""
        default = {"status": "error", "message": f"injected failure {status}", "errors": []}
        with self._state_lock:
            self._failures.append(_Failure(status, body or default, headers or {}, times))

    def _enqueue(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        with self._state_lock:
            if self._failures:
                failure = self._failures[0]
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
                return Reply(failure.status, failure.body, dict(failure.headers))
        try:
            event = req.json()
        except ValueError:
            return Reply(400, {"status": "invalid request", "message": "Invalid JSON", "errors": []})
        if not isinstance(event, dict):
            return invalid("Event object must be a JSON object")
        key = event.get("routing_key")
        if (
            not isinstance(key, str)
            or not key
            or (self.routing_keys is not None and key not in self.routing_keys)
        ):
            return invalid("'routing_key' is invalid")
        action = event.get("event_action")
        if action not in ACTIONS:
            return invalid("'event_action' is invalid")
        dedup_key = event.get("dedup_key")
        if action == "trigger":
            payload = event.get("payload") or {}
            missing = [f for f in ("summary", "source", "severity") if not payload.get(f)]
            if missing:
                return invalid(*(f"'payload.{f}' is missing or blank" for f in missing))
            if payload["severity"] not in SEVERITIES:
                return invalid("'payload.severity' is invalid")
            dedup_key = dedup_key or uuid.uuid4().hex
        elif not dedup_key:
            return invalid("'dedup_key' is required for acknowledge and resolve")
        with self._state_lock:
            self.events.append(event)
            self.alerts[str(dedup_key)] = {
                "trigger": "triggered",
                "acknowledge": "acknowledged",
                "resolve": "resolved",
            }[str(action)]
        return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key})
