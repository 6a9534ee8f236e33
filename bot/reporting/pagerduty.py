"""Escalations page PagerDuty (dedup key = the incident); acknowledge and resolve follow the incident."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot.audit import audit
from bot.logs import get_logger
from bot.reporting.base import NotificationLog
from bot.reporting.circuits import circuit_news
from bot.reporting.context import incident_view
from bot.runbook_kit.spec import IncidentContext
from bot.store.db import Store
from integrations.pagerduty.events import PagerDutyEvents, page_event

log = get_logger(__name__)


def dedup_key(incident_id: int | None, run_id: int | None) -> str:
    return f"conductor-incident-{incident_id}" if incident_id is not None else f"conductor-run-{run_id}"


class PagerDutyReporter:
    name = "pagerduty"

    def __init__(
        self,
        store: Store,
        events: Callable[[], PagerDutyEvents],
        *,
        service: str | None,
        source: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._source = source
        self._store = store
        self._events = events
        self._service = service or None
        self._clock = clock
        self._log = NotificationLog(store, clock)

    def escalated(self, *, run_id: int | None, incident_id: int | None, reason: str) -> None:
        key = dedup_key(incident_id, run_id)
        context = IncidentContext(
            incident_id=key,
            title=f"Run {run_id} needs a human",
            severity="error",
            status="open",
            summary=reason,
        )
        if incident_id is not None:
            with self._store.sessions() as session:
                found = incident_view(session, incident_id)
            if found is not None:
                _incident, base, _alerts = found
                context = replace(base, incident_id=key, summary=f"{reason} — {base.summary}".strip(" —"))

        def send() -> str:
            return self._events().trigger(page_event(context, source=self._source), service=self._service)

        ref = self._log.once(
            f"pagerduty:escalation:run:{run_id}:incident:{incident_id}",
            send,
            channel="pagerduty",
            incident_id=incident_id,
        )
        self._log.record(f"pagerduty:paged:{key}", channel="pagerduty", ref=ref, incident_id=incident_id)
        with self._store.transaction() as session:
            subject = f"incident:{incident_id}" if incident_id is not None else f"run:{run_id}"
            audit(
                session,
                at=self._clock(),
                actor="system",
                subject=subject,
                action="escalation.paged",
                details={"dedup_key": key, "reason": reason},
            )

    def incident_changed(self, incident_id: int, event: str) -> None:
        key = dedup_key(incident_id, None)
        if event not in ("acknowledged", "resolved") or self._log.sent(f"pagerduty:paged:{key}") is None:
            return
        action = self._events().acknowledge if event == "acknowledged" else self._events().resolve
        self._log.once(
            f"pagerduty:{event}:{key}:{self._clock().date()}",
            lambda: action(key, service=self._service),
            channel="pagerduty",
            incident_id=incident_id,
        )

    def run_changed(self, run_id: int, event: str) -> None:
        return

    def circuit_changed(self, circuit_id: int, event: str) -> None:
        """Page when a circuit opens (automation paused); resolve that alert when it closes."""
        with self._store.sessions() as session:
            news = circuit_news(session, circuit_id, event)
        if news is None:
            return
        if event == "opened":
            context = IncidentContext(
                incident_id=news.dedup_key,
                title=f"Automation paused: {news.scope}",
                severity="error",
                status="open",
                summary=news.text,
            )
            self._log.once(
                f"pagerduty:circuit:{circuit_id}:opened",
                lambda: self._events().trigger(
                    page_event(context, source=self._source), service=self._service
                ),
                channel="pagerduty",
            )
        elif self._log.sent(f"pagerduty:circuit:{circuit_id}:opened") is not None:
            self._log.once(
                f"pagerduty:circuit:{circuit_id}:closed",
                lambda: self._events().resolve(news.dedup_key, service=self._service),
                channel="pagerduty",
            )
