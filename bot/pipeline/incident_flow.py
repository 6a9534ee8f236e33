"""What happens when an incident opens: detect, match a rule, gate through the engine, say why.

Runs from the `incident.event` job. Network work (metric fetch, planning) happens outside
transactions; the decision is stored once per opening of the incident (a retried job or a
repeat of the alert does not decide again), and every outcome is shown to people.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select

from bot.alerts.normalized import AlertStatus, Metric, NormalizedAlert, Resource, Severity
from bot.audit import audit
from bot.config.root import Settings
from bot.engine.engine import Engine
from bot.engine.states import RunStatus, transition
from bot.job_runner import JobRunner
from bot.jobs import ClaimedJob
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.pipeline.decide import Choice, DecideStage, Suspect
from bot.pipeline.detect import Detection, DetectStage
from bot.pipeline.fanout import Fanout
from bot.pipeline.stages import Stage
from bot.reporting.base import NotificationLog
from bot.store.db import Store
from bot.store.models import Alert, Approval, AuditRecord, Incident, RunbookRun

log = get_logger(__name__)


def stored_alert(row: Alert) -> NormalizedAlert:
    return NormalizedAlert(
        source=row.source,
        fingerprint=row.fingerprint,
        name=row.name,
        status=AlertStatus(row.status),
        severity=Severity(row.severity),
        summary=row.summary,
        description=row.description,
        resource=Resource.model_validate(row.resource or {}),
        metric=Metric.model_validate(row.metric) if row.metric else None,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        labels=dict(row.labels or {}),
        annotations=dict(row.annotations or {}),
        links=list(row.links or []),
    )


class IncidentFlow:
    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        engine: Engine,
        detect: DetectStage,
        fanout: Fanout,
        metrics: Metrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._settings = settings
        self._engine = engine
        self._detect: Stage[NormalizedAlert, Detection] = detect
        self._decide: Stage[Suspect, Choice] = DecideStage(rules=settings.rules, engine=engine)
        self._fanout = fanout
        self._metrics = metrics
        self._clock = clock
        self._log = NotificationLog(store, clock)

    def register_jobs(self, runner: JobRunner) -> None:
        runner.register("incident.event", self.handle)

    def handle(self, job: ClaimedJob) -> None:
        incident_id = int(job.payload["incident_id"])
        event = str(job.payload["event"])
        if event == "updated" and self._superseded(incident_id, job.payload.get("alert_events")):
            self._metrics.incidents.labels(event="updated_coalesced").inc()
            return
        if event in ("opened", "reopened"):
            self.decide(incident_id)
        elif event == "resolved":
            self._cancel_pending_runs(incident_id)
        self._fanout.incident_changed(incident_id, event)

    def _superseded(self, incident_id: int, alert_events: object) -> bool:
        """Whether alerts repeated on the incident after this "updated" was queued: every repeat
        queues its own, and reporters render the incident as it is now, so the latest one tells
        everything this one would have (a storm of repeats costs one Slack update, not hundreds)."""
        if not isinstance(alert_events, int):
            return False  # queued before updates carried the count
        with self._store.sessions() as session:
            current = session.scalar(select(Incident.alert_events).where(Incident.id == incident_id))
        return current is not None and current > alert_events

    def _trigger_alert(self, incident_id: int) -> tuple[Incident, NormalizedAlert] | None:
        with self._store.sessions() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return None
            row = session.scalars(
                select(Alert)
                .where(Alert.incident_id == incident_id)
                .order_by((Alert.status == AlertStatus.FIRING.value).desc(), Alert.last_seen.desc())
                .limit(1)
            ).first()
            return (incident, stored_alert(row)) if row is not None else None

    def score_now(self, incident_id: int) -> float | None:
        """The incident's metric scored again now (verification: did the anomaly go away?).

        This is the highest probability (score before alert de-duplication) in the alert window, not
        the alert score: a sustained anomaly raises one alert and its later points are de-duplicated,
        yet it has not gone away; it has when a whole window is calm."""
        found = self._trigger_alert(incident_id)
        if found is None:
            return None
        return self._detect.run(found[1], self._clock()).probability

    def decide(self, incident_id: int) -> None:
        found = self._trigger_alert(incident_id)
        if found is None:
            return
        incident, alert = found
        key = f"decide:incident:{incident_id}:{incident.reopened_count}"
        if self._log.sent(key) is not None or incident.status == "resolved":
            return
        # Claimed before deciding: two workers (a job retried while its first worker still runs,
        # on another replica) never both decide; the second is deferred (docs/ha.md).
        decided = self._log.send_once(
            key, lambda: self._decide_once(incident, alert), channel="pipeline", incident_id=incident_id
        )
        if decided.now:
            self._fanout.incident_changed(incident_id, "decided")

    def _decide_once(self, incident: Incident, alert: NormalizedAlert) -> str:
        """Detect, choose and record the decision; returns the run id ("" when nothing runs)."""
        incident_id = incident.id
        earlier = self._run_of_this_opening(incident)
        if earlier is not None:  # a worker that died after requesting it did not record the decision
            return str(earlier)
        now = self._clock()
        detection = self._detect.run(alert, now)
        decision, code, reason, run_id, gate = self._decide.run(
            Suspect(incident.id, incident.flapping, alert, detection), now
        )
        with self._store.transaction() as session:
            row = session.get(Incident, incident_id)
            if row is None:
                return ""
            row.anomaly_status = detection.status.value
            row.anomaly_score = detection.score
            row.anomaly_threshold = detection.threshold
            row.explanation = detection.explanation
            row.evidence = detection.evidence
            row.decision = decision
            row.decision_reason = reason
            row.updated_at = now
            audit(
                session,
                at=now,
                actor="system",
                subject=f"incident:{incident_id}",
                action="incident.decided",
                details={
                    "decision": decision,
                    "code": code.value,
                    "gate_code": gate.value if gate is not None else None,
                    "reason": reason,
                    "run_id": run_id,
                    "anomaly_status": detection.status.value,
                    "score": detection.score,
                    "explanation": detection.explanation,
                },
            )
        self._metrics.decisions.labels(decision=decision).inc()
        return str(run_id or "")

    def _run_of_this_opening(self, incident: Incident) -> int | None:
        """A run already requested for the incident since it (re)opened, if any."""
        with self._store.sessions() as session:
            since = session.scalar(
                select(func.max(AuditRecord.at)).where(
                    AuditRecord.subject == f"incident:{incident.id}",
                    AuditRecord.action == "incident.reopened",
                )
            )
            return session.scalar(
                select(RunbookRun.id).where(
                    RunbookRun.incident_id == incident.id,
                    RunbookRun.created_at >= (since or incident.opened_at),
                )
            )

    def _cancel_pending_runs(self, incident_id: int) -> None:
        """An incident that resolved on its own needs no approval any more."""
        now = self._clock()
        with self._store.transaction() as session:
            pending = session.scalars(
                select(RunbookRun).where(
                    RunbookRun.incident_id == incident_id,
                    RunbookRun.status.in_(
                        [RunStatus.AWAITING_APPROVAL.value, RunStatus.PLANNED.value, RunStatus.QUEUED.value]
                    ),
                )
            ).all()
            for run in pending:
                transition(
                    session,
                    run,
                    RunStatus.CANCELLED,
                    now=now,
                    reason="the incident resolved before approval"
                    if run.status != RunStatus.QUEUED.value
                    else "the incident resolved while the run was queued",
                )
                approval = session.scalars(select(Approval).where(Approval.run_id == run.id)).first()
                if approval is not None and approval.status == "pending":
                    approval.status, approval.decided_at, approval.decided_by = "cancelled", now, "system"
                self._engine.deps.notify(session, run.id, "cancelled")
