"""A recording fake of the Log Analytics query API (`POST /v1/workspaces/{id}/query`), over HTTPS.

It does not evaluate KQL: it answers every query on a workspace with the rows the test set,
in the real response shape, and records the query text so tests can assert on it::

    with FakeAzureLogs(tls=test_tls.server_context) as logs:
        logs.set_errors(WORKSPACE, [("System.OutOfMemoryException: ...", 7)])
        client = LogAnalyticsClient(AzureSettings(logs_endpoint=logs.url, workspace_id=WORKSPACE, ...))
        ...
        assert "web1" in logs.queries()[0]
"""

from __future__ import annotations

import re
import ssl
import threading
from dataclasses import dataclass
from typing import Any

from tests.fakes.http_server import FakeService, RecordedRequest, Reply

ERROR_COLUMNS = [{"name": "Message", "type": "string"}, {"name": "Count", "type": "long"}]


@dataclass
class _Failure:
    status: int
    body: Any
    headers: dict[str, str]
    times: int


class FakeAzureLogs(FakeService):
    """Workspaces -> one result table each; unknown workspaces get the real 404 error shape."""

    def __init__(self, *, tls: ssl.SSLContext) -> None:
        super().__init__(tls=tls)
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.partial_error: dict[str, Any] | None = None
        self._failures: list[_Failure] = []
        self._state_lock = threading.Lock()
        self.route("POST", r"/v1/workspaces/(?P<workspace>[^/]+)/query")(self._query)

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self.tables.clear()
            self.partial_error = None
            self._failures.clear()

    def set_errors(self, workspace_id: str, rows: list[tuple[str, int]]) -> None:
        """The `Message`/`Count` table every query on `workspace_id` returns."""
        self.set_table(workspace_id, ERROR_COLUMNS, [[m, c] for m, c in rows])

    def set_table(self, workspace_id: str, columns: list[dict[str, str]], rows: list[list[Any]]) -> None:
        with self._state_lock:
            self.tables[workspace_id] = [{"name": "PrimaryResult", "columns": columns, "rows": rows}]

    def fail_next(
        self, status: int, *, body: Any = None, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        default = {"error": {"code": f"Fake{status}", "message": f"injected failure {status}"}}
        with self._state_lock:
            self._failures.append(_Failure(status, body or default, headers or {}, times))

    def queries(self) -> list[str]:
        """The KQL text of every query received, in order."""
        return [str((r.json() or {}).get("query", "")) for r in self.calls("POST", "/query")]

    def _query(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        if not req.headers.get("authorization", "").startswith("Bearer "):
            return Reply(401, {"error": {"code": "AuthorizationRequiredError", "message": "no token"}})
        with self._state_lock:
            if self._failures:
                failure = self._failures[0]
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
                return Reply(failure.status, failure.body, dict(failure.headers))
            tables = self.tables.get(match["workspace"])
            partial = self.partial_error
        body = req.json() or {}
        if not body.get("query"):
            return Reply(400, {"error": {"code": "BadArgumentError", "message": "query is required"}})
        if tables is None:
            return Reply(
                404,
                {"error": {"code": "WorkspaceNotFoundError", "message": f"workspace {match['workspace']}"}},
            )
        answer: dict[str, Any] = {"tables": tables}
        if partial is not None:
            answer["error"] = partial
        return Reply(200, answer)
