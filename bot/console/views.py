"""What each console page shows, read from the store as plain dicts for the templates.

The incident page's timeline merges the incident's alerts, its audit entries (opened, decided with
the reason, acknowledged, resolved...) and its runs' audit entries, oldest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import list_audit
from bot.engine.views import approval_json, run_json
from bot.incidents import service
from bot.store.models import Approval, Incident, RunbookRun

SEVERITIES = ("critical", "error", "warning", "info", "unknown")
STATUSES = ("open", "all", "resolved")


def incidents_page(
    session: Session, *, status: str, severity: str, text: str, limit: int = 200
) -> list[dict[str, Any]]:
    """Incidents, newest first, filtered by status scope, severity and a title substring."""
    rows = service.list_incidents(
        session, service.IncidentFilter(status, 5000 if (severity or text) else limit)
    )
    wanted = text.strip().lower()
    out = [
        service.incident_json(i)
        for i in rows
        if (not severity or i.severity == severity) and (not wanted or wanted in i.title.lower())
    ]
    return out[:limit]


def _when(moment: Any) -> str:
    if isinstance(moment, datetime):
        return moment.isoformat()
    return str(moment or "")


def _plan_calls(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "what": f"{c.get('system', '')} {c.get('operation', '')}".strip(),
            "description": c.get("description", ""),
            "before": c.get("before"),
            "after": c.get("after"),
        }
        for c in plan.get("calls", [])
    ]


def incident_page(session: Session, incident_id: int) -> dict[str, Any]:
    """The incident with its alerts, timeline, decisions, runs (plans, before/after) and audit."""
    incident: Incident = service.get_incident(session, incident_id)
    alerts = service.incident_alerts(session, incident_id)
    runs = list(
        session.scalars(
            select(RunbookRun).where(RunbookRun.incident_id == incident_id).order_by(RunbookRun.id)
        )
    )
    audit = list_audit(session, subject=f"incident:{incident_id}", limit=500)
    for run in runs:
        audit += list_audit(session, subject=f"run:{run.id}", limit=200)
    audit.sort(key=lambda e: (e.at, e.id))
    timeline = [
        {
            "at": _when(a.first_seen),
            "kind": "alert",
            "text": f"{a.source} alert {a.name} fired ({a.severity})",
        }
        for a in alerts
    ]
    timeline += [
        {"at": _when(e.at), "kind": e.action, "text": _audit_text(e.action, e.actor, e.details)}
        for e in audit
    ]
    timeline.sort(key=lambda item: item["at"])
    decisions = [
        {
            "at": _when(e.at),
            "decision": e.details.get("decision", ""),
            "reason": e.details.get("reason", ""),
            "score": e.details.get("score"),
            "explanation": e.details.get("explanation", ""),
        }
        for e in audit
        if e.action == "incident.decided"
    ]
    approvals = {
        a.run_id: approval_json(session, a)
        for a in session.scalars(select(Approval).where(Approval.run_id.in_([r.id for r in runs])))
    } if runs else {}  # fmt: skip
    return {
        "incident": service.incident_json(incident),
        "explanation": incident.explanation,
        "has_chart": bool((incident.evidence or {}).get("timestamps")),
        "alerts": [service.alert_json(a) for a in alerts],
        "timeline": timeline,
        "decisions": decisions,
        "runs": [
            {
                **run_json(run),
                "calls": _plan_calls(run.plan or {}),
                "plan_summary": (run.plan or {}).get("summary", ""),
                "approval": approvals.get(run.id),
            }
            for run in runs
        ],
        "audit": [e.to_json() for e in audit],
    }


def _audit_text(action: str, actor: str, details: dict[str, Any]) -> str:
    extra = details.get("reason") or details.get("decision") or ""
    return f"{action} by {actor}" + (f": {extra}" if extra else "")


def approvals_page(session: Session, *, include_decided: bool) -> list[dict[str, Any]]:
    query = select(Approval).order_by(Approval.id.desc())
    if not include_decided:
        query = query.where(Approval.status == "pending")
    return [approval_json(session, a) for a in session.scalars(query.limit(200))]
