"""One Jira ticket per incident: opened with the incident, commented as runs finish, resolved with it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.engine.states import FINAL, RunStatus
from bot.reporting.base import NotificationLog
from bot.reporting.context import incident_view
from bot.store.db import Store
from bot.store.models import Incident, RunbookRun
from integrations.jira.client import JiraTickets


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "n/a"
    seconds = int((end - start).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {secs}s"


class JiraReporter:
    name = "jira"

    def __init__(
        self, store: Store, tickets: Callable[[], JiraTickets], clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._tickets = tickets
        self._log = NotificationLog(store, clock)

    def _ticket_key(self, incident_id: int) -> str | None:
        with self._store.sessions() as session:
            found = incident_view(session, incident_id)
            if found is None:
                return None
            incident, context, _alerts = found
            if incident.jira_key:
                return incident.jira_key

        def create() -> str:
            return self._tickets().ensure_ticket(context, comment_on_existing=False).key

        # Claimed in the notification log first, so two replicas never open two tickets.
        ticket_key = self._log.once(
            f"jira:incident:{incident_id}:ticket", create, channel="jira", incident_id=incident_id
        )
        with self._store.transaction() as session:
            row = session.get(Incident, incident_id)
            if row is not None:
                row.jira_key = ticket_key
        return ticket_key

    def incident_changed(self, incident_id: int, event: str) -> None:
        if event in ("opened", "reopened", "decided"):
            key = self._ticket_key(incident_id)
            if key and event == "decided":
                self._comment_decision(incident_id, key)
            elif key and event == "reopened":
                self._log.once(
                    f"jira:incident:{incident_id}:reopened:{self._reopens(incident_id)}",
                    lambda: self._send(key, "The alert fired again: the incident re-opened."),
                    channel="jira",
                    incident_id=incident_id,
                )
        elif event == "resolved":
            self._resolve(incident_id)

    def _reopens(self, incident_id: int) -> int:
        with self._store.sessions() as session:
            row = session.get(Incident, incident_id)
            return row.reopened_count if row else 0

    def _send(self, key: str, text: str) -> str:
        self._tickets().comment(key, text)
        return key

    def _comment_decision(self, incident_id: int, key: str) -> None:
        with self._store.sessions() as session:
            row = session.get(Incident, incident_id)
            if row is None or not row.decision:
                return
            score = "not scored" if row.anomaly_score is None else f"{row.anomaly_score:.3f}"
            text = (
                f"Anomaly check: {score} (threshold {row.anomaly_threshold}). {row.explanation}\n"
                f"Decision: {row.decision} — {row.decision_reason}"
            )
            reopens = row.reopened_count
        self._log.once(
            f"jira:incident:{incident_id}:decided:{reopens}",
            lambda: self._send(key, text),
            channel="jira",
            incident_id=incident_id,
        )

    def _resolve(self, incident_id: int) -> None:
        with self._store.sessions() as session:
            row = session.get(Incident, incident_id)
            if row is None or not row.jira_key:
                return
            key = row.jira_key
            runs = session.query(RunbookRun).filter(RunbookRun.incident_id == incident_id).all()
            ran = "; ".join(f"{r.runbook_id} on {r.target}: {r.status}" for r in runs) or "nothing ran"
            text = (
                f"Resolved by {row.resolved_by or 'system'}. Time to resolve: "
                f"{_duration(row.opened_at, row.resolved_at)}; time to acknowledge: "
                f"{_duration(row.opened_at, row.acknowledged_at)}. Runs: {ran}."
            )
            reopens = row.reopened_count

        def send() -> str:
            self._tickets().resolve(key, text)
            return key

        self._log.once(
            f"jira:incident:{incident_id}:resolved:{reopens}", send, channel="jira", incident_id=incident_id
        )

    def run_changed(self, run_id: int, event: str) -> None:
        with self._store.sessions() as session:
            run = session.get(RunbookRun, run_id)
            if run is None or run.incident_id is None or RunStatus(run.status) not in FINAL:
                return
            incident = session.get(Incident, run.incident_id)
            if incident is None or not incident.jira_key:
                return
            key = incident.jira_key
            text = f"Run {run.id} ({run.runbook_id} on {run.target}) {run.status}: {run.reason}"
        self._log.once(
            f"jira:run:{run_id}:{run.status}",
            lambda: self._send(key, text),
            channel="jira",
            incident_id=run.incident_id,
        )

    def escalated(self, *, run_id: int | None, incident_id: int | None, reason: str) -> None:
        if incident_id is None:
            return
        with self._store.sessions() as session:
            row = session.get(Incident, incident_id)
            key = row.jira_key if row else ""
        if key:
            self._log.once(
                f"jira:escalation:{run_id}:{incident_id}",
                lambda: self._send(key, f"Escalated to a human: {reason}"),
                channel="jira",
                incident_id=incident_id,
            )
