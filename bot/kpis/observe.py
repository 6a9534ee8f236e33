"""The Prometheus histograms of time to acknowledge and time to resolve (docs/kpis.md), fed like a
reporter: it hears every incident and run change from the job queue.

Each incident is observed once per histogram (its first acknowledgement, its first resolution)
across every replica and job retry: the notification log (unique key) records the observation
before it is made, so a retried job or a second replica finds the key taken and skips it (a crash
between the two loses one sample rather than counting one twice).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select

from bot.metrics import Metrics
from bot.reporting.base import NotificationLog
from bot.store.db import Store
from bot.store.models import Incident, RunbookRun


class KpiObserver:
    """A reporter that turns acknowledgements and resolutions into histogram samples."""

    name = "kpis"

    def __init__(self, store: Store, metrics: Metrics, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._metrics = metrics
        self._log = NotificationLog(store, clock)

    def incident_changed(self, incident_id: int, event: str) -> None:
        if event == "acknowledged":
            self._acknowledged(incident_id)
        elif event == "resolved":
            self._acknowledged(incident_id)  # a run that started and fixed it acknowledged it
            self._resolved(incident_id)

    def run_changed(self, run_id: int, event: str) -> None:
        if event != "running":
            return
        with self._store.sessions() as session:
            incident_id = session.scalar(select(RunbookRun.incident_id).where(RunbookRun.id == run_id))
        if incident_id is not None:
            self._acknowledged(incident_id)

    def escalated(self, *, run_id: int | None, incident_id: int | None, reason: str) -> None:
        return None

    def _acknowledged(self, incident_id: int) -> None:
        with self._store.sessions() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return
            first_run = session.scalar(
                select(func.min(RunbookRun.started_at)).where(
                    RunbookRun.incident_id == incident_id, RunbookRun.started_at >= incident.opened_at
                )
            )
            moments = [m for m in (incident.acknowledged_at, first_run) if m is not None]
            if not moments:
                return
            seconds = max(0.0, (min(moments) - incident.opened_at).total_seconds())
            key = f"kpi:acknowledged:incident:{incident_id}"
        if self._log.record(key, channel="metrics", incident_id=incident_id):
            self._metrics.time_to_acknowledge.observe(seconds)

    def _resolved(self, incident_id: int) -> None:
        with self._store.sessions() as session:
            incident = session.get(Incident, incident_id)
            if incident is None or incident.status != "resolved" or incident.resolved_at is None:
                return
            seconds = max(0.0, (incident.resolved_at - incident.opened_at).total_seconds())
            key = f"kpi:resolved:incident:{incident_id}"
        if self._log.record(key, channel="metrics", incident_id=incident_id):
            self._metrics.time_to_resolve.observe(seconds)
