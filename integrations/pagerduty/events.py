"""Paging through PagerDuty's Events API v2 with the official `pagerduty` client.

The dedup key of every event is the incident id, so a repeated trigger updates the same
PagerDuty alert instead of opening another, and acknowledge/resolve follow the incident.

Errors come out as `IntegrationError(retryable=...)`: 429, 5xx and network errors are retryable
(after the client's own `max_http_attempts`), other 4xx are not. Routing keys never appear in
messages or logs.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pagerduty import EventsApiV2Client
from pagerduty.errors import Error as PagerDutyError
from pagerduty.errors import HttpError, UrlError

from bot.errors import IntegrationError
from integrations.pagerduty.settings import PagerDutySettings

if TYPE_CHECKING:
    from bot.runbook_kit.spec import IncidentContext

SYSTEM = "pagerduty"
RETRYABLE_STATUS = frozenset({408, 429})
SUMMARY_LIMIT = 1024  # the Events API rejects longer summaries

# Normalized alert severity -> Events API severity (critical, error, warning, info).
SEVERITY = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}


@dataclass(frozen=True, slots=True)
class PageEvent:
    """What a trigger sends besides the routing key, built from an incident (shown in plans)."""

    dedup_key: str
    summary: str
    source: str
    severity: str
    custom_details: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)


def _error(exc: Exception, operation: str) -> IntegrationError:
    if isinstance(exc, UrlError):
        return IntegrationError(f"pagerduty {operation}: bad base URL", retryable=False, system=SYSTEM)
    if isinstance(exc, HttpError) and exc.response is not None:
        status = exc.response.status_code
        retryable = status in RETRYABLE_STATUS or status >= 500
        detail = ""
        try:
            body = exc.response.json()
            if isinstance(body, dict):
                detail = str(body.get("message") or "")
                errors = body.get("errors")
                if isinstance(errors, list) and errors:
                    detail += ": " + "; ".join(str(e) for e in errors)
        except ValueError:
            pass
        return IntegrationError(
            f"pagerduty {operation}: HTTP {status}{': ' + detail if detail else ''}",
            retryable=retryable,
            system=SYSTEM,
        )
    # No response: the client gave up after repeated network errors.
    return IntegrationError(f"pagerduty {operation}: network error", retryable=True, system=SYSTEM)


class PagerDutyEvents:
    """Trigger, acknowledge and resolve PagerDuty alerts keyed by incident id."""

    def __init__(self, settings: PagerDutySettings, *, env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self._env = env if env is not None else os.environ
        self._clients: dict[str, EventsApiV2Client] = {}
        self._lock = threading.Lock()

    def service_name(self, service: str | None) -> str:
        """The named service, or the configured default; raises when neither is known."""
        name = service or self.settings.default_service
        if not name:
            raise IntegrationError("no PagerDuty service named and no default_service", system=SYSTEM)
        if name not in self.settings.routing_keys:
            known = ", ".join(sorted(self.settings.routing_keys)) or "none"
            raise IntegrationError(
                f"PagerDuty service {name!r} has no routing key configured (known: {known})", system=SYSTEM
            )
        return name

    def _client(self, service: str | None) -> EventsApiV2Client:
        name = self.service_name(service)
        env_name = self.settings.routing_keys[name]
        routing_key = self._env.get(env_name, "")
        if not routing_key:
            raise IntegrationError(
                f"environment variable {env_name} (routing key of PagerDuty service {name!r}) is not set",
                system=SYSTEM,
            )
        cache_key = f"{name}\n{routing_key}"  # a rotated key gets a fresh client
        with self._lock:
            client = self._clients.get(cache_key)
            if client is None:
                settings = self.settings
                verify: ssl.SSLContext | bool = True
                if settings.ca_bundle is not None:
                    verify = ssl.create_default_context(cafile=str(settings.ca_bundle))
                try:
                    client = EventsApiV2Client(routing_key, base_url=settings.events_base_url, verify=verify)
                except UrlError as exc:
                    raise _error(exc, "connect") from exc
                client.timeout = settings.timeout_seconds  # type: ignore[assignment]  # httpx takes floats
                client.sleep_timer = settings.retry_sleep_seconds
                retries = settings.max_http_attempts - 1
                client.max_network_attempts = retries  # the client counts retries, not attempts
                for status in (500, 502, 503, 504):
                    client.retry[status] = retries
                # 0 would mean "retry without limit" for 429 in this client: always bound it (so a
                # 429 is tried at least twice, even with max_http_attempts = 1).
                client.retry[429] = max(retries, 1)
                self._clients[cache_key] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def page(
        self, incident: IncidentContext, *, service: str | None = None, source: str | None = None
    ) -> str:
        """Trigger the incident's alert (dedup key = incident id); for reporting to call directly.

        `source` defaults to the incident's `resource` label, then to `pagerduty.source`.
        """
        source = source or incident.labels.get("resource") or self.settings.source
        return self.trigger(page_event(incident, source=source), service=service)

    def trigger(self, event: PageEvent, *, service: str | None = None) -> str:
        """Open (or update) the alert `event.dedup_key`; returns the dedup key PagerDuty reports."""
        client = self._client(service)
        try:
            return client.trigger(
                summary=event.summary,
                source=event.source,
                dedup_key=event.dedup_key,
                severity=event.severity,
                custom_details=event.custom_details or None,
                links=event.links or None,
            )
        except PagerDutyError as exc:
            raise _error(exc, "trigger") from exc

    def acknowledge(self, dedup_key: str, *, service: str | None = None) -> str:
        """Acknowledge the alert opened with `dedup_key` (the incident id)."""
        client = self._client(service)
        try:
            return client.acknowledge(dedup_key)
        except PagerDutyError as exc:
            raise _error(exc, "acknowledge") from exc

    def resolve(self, dedup_key: str, *, service: str | None = None) -> str:
        """Resolve the alert opened with `dedup_key` (the incident id)."""
        client = self._client(service)
        try:
            return client.resolve(dedup_key)
        except PagerDutyError as exc:
            raise _error(exc, "resolve") from exc


def page_event(incident: IncidentContext, *, source: str) -> PageEvent:
    """Build the trigger event of an incident (dedup key = incident id)."""
    text = incident.title if not incident.summary else f"{incident.title}: {incident.summary}"
    if len(text) > SUMMARY_LIMIT:
        text = text[: SUMMARY_LIMIT - 1] + "…"
    details: dict[str, Any] = {"incident_id": incident.incident_id, "status": incident.status}
    if incident.anomaly_score is not None:
        details["anomaly_score"] = round(incident.anomaly_score, 4)
    if incident.explanation:
        details["explanation"] = incident.explanation
    if incident.labels:
        details["labels"] = dict(incident.labels)
    links = [link for link in incident.links if link.startswith(("http://", "https://"))]
    return PageEvent(
        dedup_key=incident.incident_id,
        summary=text,
        source=source,
        severity=SEVERITY.get(incident.severity.lower(), "warning"),
        custom_details=details,
        links=[{"href": link, "text": link} for link in links],
    )
