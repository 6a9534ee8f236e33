"""moto in server mode behind a middleware that records every JSON-protocol call (the
`X-Amz-Target` operation and its body), so a test or benchmark can count the exact actions that
reached "AWS" (e.g. ECS UpdateService calls per service). Everything is forwarded unchanged."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class AwsCall:
    operation: str  # e.g. "AmazonEC2ContainerServiceV20141113.UpdateService"
    body: dict[str, Any]


class RecordingMotoServer:
    """Point AWS_ENDPOINT_URL at `url`; `calls("UpdateService")` lists what arrived."""

    def __init__(self) -> None:
        self._app = DomainDispatcherApplication(create_backend_app)
        self._calls: list[AwsCall] = []
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self.url = ""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
        if not target:
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        with self._lock:
            self._calls.append(AwsCall(target, body if isinstance(body, dict) else {}))
        forwarded = dict(environ)
        forwarded["wsgi.input"] = io.BytesIO(raw)
        forwarded["CONTENT_LENGTH"] = str(len(raw))
        return self._app(forwarded, start_response)

    def calls(self, operation: str | None = None) -> list[AwsCall]:
        with self._lock:
            return [c for c in self._calls if operation is None or c.operation.endswith(f".{operation}")]

    def start(self) -> RecordingMotoServer:
        server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=MotoRequestHandler)
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_port}"
        threading.Thread(target=server.serve_forever, name="moto-recorder", daemon=True).start()
        return self

    def reset(self) -> None:
        httpx.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        with self._lock:
            self._calls.clear()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
