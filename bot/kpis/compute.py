"""The KPIs of a time window, computed from stored incidents, alerts, runs and approvals.

Every figure is defined in docs/kpis.md; in short, for the incidents opened in [since, until):

- MTTD: the first alert's `starts_at` (when the source says the problem began; `first_seen` when it
  does not say) to the incident opening;
- MTTA: opening to the first acknowledgement — a person's, or a runbook run starting for it;
- MTTR: opening to resolution (resolved incidents only);
- automatic resolution rate: resolved incidents a rule's run fixed, with no person resolving them;
- runbook effectiveness: runs created in the window, per runbook, by outcome (rejections by reason);
- approvals created in the window: time to a decision, and how many expired;
- noise: alerts per incident, the share of flapping incidents, and the shares of alerts that were
  silenced or inhibited (alerts first seen in the window).

`service` narrows everything to alerts labelled `service=S` and the incidents and runs of those alerts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.ingest.sources import SOURCES
from bot.kpis.stats import Durations, share
from bot.store.models import Alert, Approval, Incident, RunbookRun

# Who resolves an incident without a person: a run (`run:<id>`) or its alerts clearing (the source).
_AUTOMATIC_RESOLVERS = frozenset({"system", "sweep", *SOURCES})
RUN_OUTCOMES = ("succeeded", "ineffective", "rolled_back", "failed", "rejected", "expired", "cancelled")


@dataclass(frozen=True, slots=True)
class RunbookEffectiveness:
    runbook: str
    runs: int
    outcomes: dict[str, int]  # succeeded / ineffective / rolled_back / failed / rejected / ...
    rejected_by_reason: dict[str, int]
    in_flight: int

    @property
    def success_rate(self) -> float | None:
        finished = self.runs - self.in_flight
        return share(self.outcomes.get("succeeded", 0), finished)

    def to_json(self) -> dict[str, Any]:
        return {
            "runbook": self.runbook,
            "runs": self.runs,
            "outcomes": self.outcomes,
            "rejected_by_reason": self.rejected_by_reason,
            "in_flight": self.in_flight,
            "success_rate": self.success_rate,
        }


@dataclass(frozen=True, slots=True)
class KpiReport:
    since: datetime
    until: datetime
    service: str | None
    incidents: int
    resolved: int
    mttd: Durations
    mtta: Durations
    mttr: Durations
    resolved_automatically: int
    runbooks: list[RunbookEffectiveness]
    approval_decision: Durations
    approvals: dict[str, int]  # approved / denied / expired / pending
    alerts: int
    alerts_silenced: int
    alerts_inhibited: int
    flapping_incidents: int
    opened_per_day: dict[str, int] = field(default_factory=dict)

    @property
    def automatic_resolution_rate(self) -> float | None:
        return share(self.resolved_automatically, self.resolved)

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "service": self.service,
            "incidents": {"opened": self.incidents, "resolved": self.resolved},
            "mttd": self.mttd.to_json(),
            "mtta": self.mtta.to_json(),
            "mttr": self.mttr.to_json(),
            "automatic_resolution": {
                "resolved_automatically": self.resolved_automatically,
                "resolved": self.resolved,
                "rate": self.automatic_resolution_rate,
            },
            "runbooks": [r.to_json() for r in self.runbooks],
            "approvals": {**self.approvals, "time_to_decision": self.approval_decision.to_json()},
            "noise": {
                "alerts": self.alerts,
                "alerts_per_incident": (
                    None if self.incidents == 0 else round(self.alerts_in_incidents / self.incidents, 3)
                ),
                "flapping_share": share(self.flapping_incidents, self.incidents),
                "silenced_share": share(self.alerts_silenced, self.alerts),
                "inhibited_share": share(self.alerts_inhibited, self.alerts),
            },
            "opened_per_day": self.opened_per_day,
        }

    alerts_in_incidents: int = 0


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def _run_bucket(run: RunbookRun) -> str | None:
    """The outcome a final run counts under; None while it is still in flight."""
    status = run.status
    if status == "ineffective" and (run.result or {}).get("rolled_back") == "changed":
        return "rolled_back"
    if status in ("failed", "timed_out"):
        return "failed"
    if status in RUN_OUTCOMES:
        return status
    return None


def _reason_key(reason: str) -> str:
    """A rejection reason short enough to group by: its first clause."""
    head = reason.strip().split(";")[0].strip() or "no reason given"
    return head if len(head) <= 80 else head[:77] + "..."


def _effectiveness(runs: list[RunbookRun]) -> list[RunbookEffectiveness]:
    by_runbook: dict[str, list[RunbookRun]] = defaultdict(list)
    for run in runs:
        by_runbook[run.runbook_id].append(run)
    out = []
    for runbook_id in sorted(by_runbook):
        outcomes: Counter[str] = Counter()
        rejected: Counter[str] = Counter()
        in_flight = 0
        for run in by_runbook[runbook_id]:
            bucket = _run_bucket(run)
            if bucket is None:
                in_flight += 1
                continue
            outcomes[bucket] += 1
            if bucket == "rejected":
                rejected[_reason_key(run.reason)] += 1
        out.append(
            RunbookEffectiveness(
                runbook=runbook_id,
                runs=len(by_runbook[runbook_id]),
                outcomes={k: outcomes[k] for k in RUN_OUTCOMES if outcomes[k]},
                rejected_by_reason=dict(rejected.most_common()),
                in_flight=in_flight,
            )
        )
    return out


def _resolved_automatically(incident: Incident, runs: list[RunbookRun]) -> bool:
    if incident.status != "resolved":
        return False
    by = incident.resolved_by or "system"
    if not (by.startswith("run:") or by in _AUTOMATIC_RESOLVERS):
        return False  # a person resolved it
    return any(r.status == "succeeded" and r.requested_by.startswith("rule:") for r in runs)


def compute_kpis(
    session: Session, *, since: datetime, until: datetime, service: str | None = None
) -> KpiReport:
    """The KPIs of the incidents, alerts, runs and approvals of [since, until)."""
    incidents = list(
        session.scalars(
            select(Incident)
            .where(Incident.opened_at >= since, Incident.opened_at < until)
            .order_by(Incident.id)
        )
    )
    ids = [i.id for i in incidents]
    members: dict[int, list[Alert]] = defaultdict(list)
    for alert in session.scalars(select(Alert).where(Alert.incident_id.in_(ids))) if ids else []:
        if alert.incident_id is not None:
            members[alert.incident_id].append(alert)
    window_alerts = list(
        session.scalars(select(Alert).where(Alert.first_seen >= since, Alert.first_seen < until))
    )
    if service is not None:
        incidents = [i for i in incidents if any(_service(a) == service for a in members[i.id])]
        window_alerts = [a for a in window_alerts if _service(a) == service]
    kept = {i.id for i in incidents}
    runs_of: dict[int, list[RunbookRun]] = defaultdict(list)
    for run in session.scalars(select(RunbookRun).where(RunbookRun.incident_id.in_(kept))) if kept else []:
        if run.incident_id is not None:
            runs_of[run.incident_id].append(run)
    window_runs = [
        r
        for r in session.scalars(
            select(RunbookRun).where(RunbookRun.created_at >= since, RunbookRun.created_at < until)
        )
        if service is None or r.incident_id in kept
    ]
    approvals = [
        a
        for a, run in session.execute(
            select(Approval, RunbookRun)
            .join(RunbookRun, RunbookRun.id == Approval.run_id)
            .where(Approval.created_at >= since, Approval.created_at < until)
        )
        if service is None or run.incident_id in kept
    ]

    detect, ack, resolve = [], [], []
    per_day: Counter[str] = Counter()
    for incident in incidents:
        per_day[incident.opened_at.date().isoformat()] += 1
        starts = [a.starts_at or a.first_seen for a in members[incident.id]]
        if starts:
            detect.append(_seconds(incident.opened_at, min(starts)))
        acks = [incident.acknowledged_at] if incident.acknowledged_at else []
        acks += [r.started_at for r in runs_of[incident.id] if r.started_at is not None]
        if acks:
            ack.append(_seconds(min(acks), incident.opened_at))
        if incident.status == "resolved" and incident.resolved_at is not None:
            resolve.append(_seconds(incident.resolved_at, incident.opened_at))
    decided = [
        _seconds(a.decided_at, a.created_at)
        for a in approvals
        if a.decided_at is not None and a.status in ("approved", "denied")
    ]
    states = Counter(a.status for a in approvals)
    return KpiReport(
        since=since,
        until=until,
        service=service,
        incidents=len(incidents),
        resolved=len(resolve),
        mttd=Durations.of(detect),
        mtta=Durations.of(ack),
        mttr=Durations.of(resolve),
        resolved_automatically=sum(_resolved_automatically(i, runs_of[i.id]) for i in incidents),
        runbooks=_effectiveness(window_runs),
        approval_decision=Durations.of(decided),
        approvals={k: states[k] for k in ("approved", "denied", "expired", "pending")},
        alerts=len(window_alerts),
        alerts_silenced=sum(a.muted_reason.startswith("silenced") for a in window_alerts),
        alerts_inhibited=sum(a.muted_reason.startswith("inhibited") for a in window_alerts),
        flapping_incidents=sum(i.flapping for i in incidents),
        opened_per_day=dict(sorted(per_day.items())),
        alerts_in_incidents=sum(len(members[i.id]) for i in incidents),
    )


def _service(alert: Alert) -> str | None:
    value = (alert.labels or {}).get("service")
    return str(value) if value else None
