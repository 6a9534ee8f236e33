"""moto's Glue, plus job runs in states moto never produces (FAILED, TIMEOUT, STOPPED, RUNNING...).

moto's Glue runs only go STARTING -> RUNNING -> SUCCEEDED, so a runbook that restarts failed runs
cannot be tested against moto alone. `GlueMotoServer` serves moto's own WSGI app (same in-process
backends as the `moto` fixture, so state and `/moto-api/reset` are shared) behind a middleware that:

- answers `GetJobRun` for an injected run id with that run, in the real Glue JSON shape;
- merges injected runs into moto's `GetJobRuns` answer for that job (newest first, as Glue does);
- forwards everything else, including `StartJobRun` and every other service, to moto unchanged.

So a test says "job X's latest run FAILED with arguments {...}" with `add_run`, and the runbook's
`StartJobRun` then reaches moto, whose new run moto reports as SUCCEEDED (or steps through
STARTING/RUNNING first, see `set_run_transition`). The job itself must exist in moto (`create_job`).

Every Glue request is recorded (`calls`) so a test can assert on the exact wire calls.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

TERMINAL_STATES = frozenset({"FAILED", "TIMEOUT", "STOPPED", "SUCCEEDED", "ERROR", "EXPIRED"})
# What Glue says in ErrorMessage for these states when a test does not care.
DEFAULT_ERRORS = {
    "FAILED": "An error occurred while calling o112.pyWriteDynamicFrame. Access Denied (Service: Amazon S3)",
    "TIMEOUT": "Job run timed out after 2880 minutes",
    "ERROR": "Internal service error",
}


@dataclass(frozen=True)
class InjectedRun:
    job_name: str
    id: str
    state: str
    started_on: datetime
    arguments: dict[str, str] = field(default_factory=dict)
    error_message: str = ""
    attempt: int = 0

    def as_glue_json(self) -> dict[str, Any]:
        """A JobRun as Glue's JSON protocol sends it (timestamps are epoch seconds)."""
        completed = self.started_on + timedelta(minutes=7) if self.state in TERMINAL_STATES else None
        last_modified = completed or self.started_on
        run: dict[str, Any] = {
            "Id": self.id,
            "Attempt": self.attempt,
            "JobName": self.job_name,
            "JobMode": "SCRIPT",
            "StartedOn": self.started_on.timestamp(),
            "LastModifiedOn": last_modified.timestamp(),
            "JobRunState": self.state,
            "Arguments": dict(self.arguments),
            "PredecessorRuns": [],
            "AllocatedCapacity": 10,
            "ExecutionTime": 420 if completed else 0,
            "Timeout": 2880,
            "MaxCapacity": 10.0,
            "WorkerType": "G.1X",
            "NumberOfWorkers": 10,
            "LogGroupName": "/aws-glue/jobs",
            "GlueVersion": "4.0",
        }
        if completed is not None:
            run["CompletedOn"] = completed.timestamp()
        if self.error_message:
            run["ErrorMessage"] = self.error_message
        return run


@dataclass(frozen=True)
class GlueCall:
    operation: str  # e.g. "StartJobRun"
    body: dict[str, Any]


class GlueRunsMiddleware:
    """WSGI middleware in front of moto that adds injected runs to Glue's run queries."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._runs: dict[str, list[InjectedRun]] = {}
        self._calls: list[GlueCall] = []

    def add_run(
        self,
        job_name: str,
        *,
        state: str = "FAILED",
        arguments: Mapping[str, str] | None = None,
        started_on: datetime | None = None,
        error_message: str | None = None,
    ) -> InjectedRun:
        """Add a run of `job_name`; by default it FAILED an hour ago. Returns it (see `.id`)."""
        if error_message is None:
            error_message = DEFAULT_ERRORS.get(state, "")
        run = InjectedRun(
            job_name=job_name,
            id=f"jr_{uuid.uuid4().hex}{uuid.uuid4().hex}",
            state=state,
            started_on=started_on or datetime.now(UTC) - timedelta(hours=1),
            arguments=dict(arguments or {}),
            error_message=error_message,
        )
        with self._lock:
            self._runs.setdefault(job_name, []).append(run)
        return run

    def calls(self, operation: str | None = None) -> list[GlueCall]:
        with self._lock:
            return [c for c in self._calls if operation is None or c.operation == operation]

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._calls.clear()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target.startswith("AWSGlue."):
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        body = json.loads(raw or b"{}")
        operation = target.removeprefix("AWSGlue.")
        with self._lock:
            self._calls.append(GlueCall(operation, body))
            injected = list(self._runs.get(str(body.get("JobName", "")), []))
        if operation == "GetJobRun" and injected:
            run = next((r for r in injected if r.id == body.get("RunId")), None)
            if run is not None:
                return _json_reply(start_response, {"JobRun": run.as_glue_json()})
        if operation == "GetJobRuns" and injected:
            return self._merged_job_runs(environ, start_response, body, injected)
        return self._app(_with_body(environ, raw), start_response)

    def _merged_job_runs(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        body: dict[str, Any],
        injected: list[InjectedRun],
    ) -> Iterable[bytes]:
        # Ask moto for all its runs (its pages are oldest first), then page the merged list ourselves.
        limit = int(body.pop("MaxResults", 100))
        body.pop("NextToken", None)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = status, headers

        chunks = b"".join(self._app(_with_body(environ, json.dumps(body).encode()), capture))
        if not str(captured["status"]).startswith("200"):
            start_response(captured["status"], captured["headers"])
            return [chunks]
        runs = json.loads(chunks).get("JobRuns", []) + [r.as_glue_json() for r in injected]
        runs.sort(key=lambda r: float(r.get("StartedOn", 0)), reverse=True)
        return _json_reply(start_response, {"JobRuns": runs[:limit]})


def _with_body(environ: dict[str, Any], raw: bytes) -> dict[str, Any]:
    forwarded = dict(environ)
    forwarded["wsgi.input"] = io.BytesIO(raw)
    forwarded["CONTENT_LENGTH"] = str(len(raw))
    return forwarded


def _json_reply(start_response: StartResponse, payload: dict[str, Any]) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
    )
    return [data]


class GlueMotoServer:
    """moto + `GlueRunsMiddleware` on 127.0.0.1:<free port>. Point AWS_ENDPOINT_URL at `url`."""

    def __init__(self) -> None:
        self.middleware = GlueRunsMiddleware(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> GlueMotoServer:
        server = make_server(
            "127.0.0.1", 0, self.middleware, threaded=True, request_handler=MotoRequestHandler
        )
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_port}"
        self._thread = threading.Thread(target=server.serve_forever, name="glue-moto", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def add_run(
        self,
        job_name: str,
        *,
        state: str = "FAILED",
        arguments: Mapping[str, str] | None = None,
        started_on: datetime | None = None,
        error_message: str | None = None,
    ) -> InjectedRun:
        """Make `job_name` have a run in `state` (default: FAILED an hour ago, with `arguments`)."""
        return self.middleware.add_run(
            job_name, state=state, arguments=arguments, started_on=started_on, error_message=error_message
        )

    def calls(self, operation: str | None = None) -> list[GlueCall]:
        return self.middleware.calls(operation)

    def set_run_transition(self, *, progression: str = "manual", times: int = 2) -> None:
        """How moto's own new runs advance (moto's state manager; default: SUCCEEDED at once).

        "manual" with `times=N`: each describe (GetJobRun/GetJobRuns) counts, and every N describes
        the run steps STARTING -> RUNNING -> SUCCEEDED. The setting is process-wide in moto:
        `reset()` undoes it.
        """
        transition: dict[str, Any] = {"progression": progression}
        if progression == "manual":
            transition["times"] = times
        httpx.post(
            f"{self.url}/moto-api/state-manager/set-transition",
            json={"model_name": "glue::job_run", "transition": transition},
            timeout=10,
        ).raise_for_status()

    def reset(self) -> None:
        """Forget injected runs and recorded calls, and restore moto's default run transition."""
        self.middleware.clear()
        httpx.post(
            f"{self.url}/moto-api/state-manager/unset-transition",
            json={"model_name": "glue::job_run"},
            timeout=10,
        ).raise_for_status()
