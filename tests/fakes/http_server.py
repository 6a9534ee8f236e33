"""A tiny threaded HTTP(S) server on 127.0.0.1:0 that records every request.

Fakes subclass `RecordingHandler` routes via `FakeService.route(method, path_regex)`.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes/str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RecordedRequest, "re.Match[str]"], Reply]


class FakeService:
    """Routes requests to handlers and records them; start() binds 127.0.0.1 on a free port."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._tls = tls
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Seconds every request takes to answer (a realistic SaaS API: ~0.15); 0 in unit tests.
        self.latency = 0.0

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self._routes.append((method.upper(), re.compile(pattern + r"\Z"), handler))
            return handler

        return decorate

    def calls(self, method: str | None = None, path_contains: str = "") -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method.upper()) and path_contains in r.path
            ]

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = str(self._server.server_address[0]), int(self._server.server_address[1])
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{host}:{port}"

    def _dispatch(self, req: RecordedRequest) -> Reply:
        for method, pattern, handler in self._routes:
            if method == req.method:
                match = pattern.match(req.path)
                if match:
                    return handler(req, match)
        return Reply(404, {"error": f"fake has no route for {req.method} {req.path}"})

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Self:
        service = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are written separately; without TCP_NODELAY each response waits
            # ~40 ms for the peer's delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with service._lock:
                    service.requests.append(req)
                if service.latency:
                    time.sleep(service.latency)
                reply = service._dispatch(req)
                if isinstance(reply.body, bytes):
                    payload = reply.body
                    ctype = "application/octet-stream"
                elif isinstance(reply.body, str):
                    payload = reply.body.encode()
                    ctype = "text/plain; charset=utf-8"
                elif reply.body is None:
                    payload = b""
                    ctype = "application/json"
                else:
                    payload = json.dumps(reply.body).encode()
                    ctype = "application/json"
                self.send_response(reply.status)
                headers = {"Content-Type": ctype, **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
