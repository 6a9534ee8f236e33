"""Log Analytics queries for runbook diagnosis, over azure-monitor-query's `LogsQueryClient`.

The query is the configurable KQL template `AzureSettings.exceptions_kql` (see
`integrations.azure.settings.DEFAULT_EXCEPTIONS_KQL`); it must return the columns `Message`
and `Count`.
"""

from __future__ import annotations

import logging
import string
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from azure.core.exceptions import AzureError

from bot.clock import Clock, utc_now
from bot.errors import IntegrationError
from integrations.azure.appservice import SYSTEM, default_credential, to_integration_error
from integrations.azure.settings import AzureSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.monitor.query import LogsQueryClient

log = logging.getLogger(__name__)


class ErrorCount(NamedTuple):
    """One distinct error message and how often it was logged in the window."""

    message: str
    occurrences: int


def _kql_string(value: str) -> str:
    # The template puts values inside "..." literals; escape what would end or bend them.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _iso(value: datetime) -> str:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def split_app(app: str) -> tuple[str, str]:
    """`app` is an ARM site id or a bare site name -> (lower-case resource id or "", site name)."""
    app = app.strip().rstrip("/")
    if app.startswith("/subscriptions/"):
        return app.lower(), app.rsplit("/", 1)[-1]
    return "", app


def render_exceptions_query(template: str, *, app: str, since: datetime, until: datetime, limit: int) -> str:
    """Fill the KQL template for one app and window."""
    resource_id, site_name = split_app(app)
    return string.Template(template).substitute(
        resource_id=_kql_string(resource_id),
        site_name=_kql_string(site_name),
        since=_iso(since),
        until=_iso(until),
        limit=str(int(limit)),
    )


class LogAnalyticsClient:
    """Reads the error messages an app logged, for the restart runbook's diagnosis."""

    def __init__(
        self,
        settings: AzureSettings,
        *,
        credential: TokenCredential | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self._credential = credential
        self._clock = clock
        self._client: LogsQueryClient | None = None
        self._lock = threading.Lock()

    def _query_client(self) -> LogsQueryClient:
        with self._lock:
            if self._client is None:
                from azure.monitor.query import LogsQueryClient

                if self._credential is None:
                    self._credential = default_credential(self.settings)
                self._client = LogsQueryClient(
                    self._credential,
                    endpoint=self.settings.logs_endpoint,
                    **self.settings.transport_options(),
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def exceptions(
        self,
        app: str,
        since: datetime,
        *,
        until: datetime | None = None,
        limit: int | None = None,
        workspace_id: str | None = None,
    ) -> list[ErrorCount]:
        """Distinct error messages of `app` (site id or name) in [since, until], most frequent first."""
        workspace = workspace_id or self.settings.workspace_id
        if not workspace:
            raise IntegrationError(
                "azure.workspace_id is not configured: cannot query Log Analytics",
                retryable=False,
                system=SYSTEM,
            )
        end = until or self._clock()
        query = render_exceptions_query(
            self.settings.exceptions_kql,
            app=app,
            since=since,
            until=end,
            limit=limit or self.settings.max_messages,
        )
        return self.query_error_counts(workspace, query, since=since, until=end)

    def query_error_counts(
        self, workspace_id: str, query: str, *, since: datetime, until: datetime
    ) -> list[ErrorCount]:
        """Run a query returning `Message`/`Count` columns; a partial result is used as it is."""
        from azure.monitor.query import LogsQueryStatus

        try:
            result = self._query_client().query_workspace(workspace_id, query, timespan=(since, until))
        except AzureError as exc:
            raise to_integration_error(exc, "query Log Analytics") from exc
        if result.status == LogsQueryStatus.PARTIAL:
            # Counts from a partial result can only be too low, so a threshold met on them is met.
            log.warning("Log Analytics returned a partial result: %s", getattr(result, "partial_error", ""))
            tables: list[Any] = list(result.partial_data)
        else:
            tables = list(result.tables)
        return _error_counts(tables)


def _error_counts(tables: list[Any]) -> list[ErrorCount]:
    counts: dict[str, int] = {}
    for table in tables:
        columns = [str(c) for c in table.columns]
        if "Message" not in columns or "Count" not in columns:
            raise IntegrationError(
                f"Log Analytics table {table.name!r} lacks the Message/Count columns (has {columns})",
                retryable=False,
                system=SYSTEM,
            )
        m, c = columns.index("Message"), columns.index("Count")
        for row in table.rows:
            message = "" if row[m] is None else str(row[m])
            counts[message] = counts.get(message, 0) + int(row[c] or 0)
    return sorted(
        (ErrorCount(msg, n) for msg, n in counts.items()), key=lambda e: (-e.occurrences, e.message)
    )
