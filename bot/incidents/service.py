"""Incident queries and the human lifecycle actions (acknowledge, resolve)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.errors import InvalidTransition, NotFound
from bot.jobs import enqueue
from bot.store.models import Alert, Incident


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "status": incident.status,
        "title": incident.title,
        "severity": incident.severity,
        "provider": incident.provider,
        "resource_type": incident.resource_type,
        "resource_id": incident.resource_id,
        "group_key": incident.group_key,
        "opened_at": _iso(incident.opened_at),
        "updated_at": _iso(incident.updated_at),
        "acknowledged_at": _iso(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by or None,
        "resolved_at": _iso(incident.resolved_at),
        "resolved_by": incident.resolved_by or None,
        "reopened_count": incident.reopened_count,
        "alert_events": incident.alert_events,
        "flapping": incident.flapping,
        "anomaly": {
            "status": incident.anomaly_status or None,
            "score": incident.anomaly_score,
            "threshold": incident.anomaly_threshold,
            "explanation": incident.explanation,
        },
        "decision": {"decision": incident.decision or None, "reason": incident.decision_reason},
        "jira_key": incident.jira_key or None,
        "slack": {"channel": incident.slack_channel, "ts": incident.slack_ts} if incident.slack_ts else None,
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "source": alert.source,
        "fingerprint": alert.fingerprint,
        "name": alert.name,
        "status": alert.status,
        "severity": alert.severity,
        "summary": alert.summary,
        "resource": alert.resource,
        "metric": alert.metric,
        "labels": alert.labels,
        "starts_at": _iso(alert.starts_at),
        "ends_at": _iso(alert.ends_at),
        "first_seen": _iso(alert.first_seen),
        "last_seen": _iso(alert.last_seen),
        "deliveries": alert.deliveries,
        "flapping": alert.flapping,
        "muted_reason": alert.muted_reason or None,
    }


@dataclass(frozen=True)
class IncidentFilter:
    scope: str = "open"  # open (open + acknowledged) | all | resolved
    limit: int = 100


def list_incidents(session: Session, filt: IncidentFilter) -> list[Incident]:
    query = select(Incident)
    if filt.scope == "open":
        query = query.where(Incident.status != "resolved")
    elif filt.scope == "resolved":
        query = query.where(Incident.status == "resolved")
    return list(session.scalars(query.order_by(Incident.id.desc()).limit(filt.limit)).all())


def get_incident(session: Session, incident_id: int, *, for_update: bool = False) -> Incident:
    """The incident; `for_update` locks its row until the transaction ends (PostgreSQL), so a
    change of status waits for a worker applying alerts to it (see bot.incidents.locks)."""
    incident = session.get(Incident, incident_id, with_for_update=for_update)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    return incident


def incident_alerts(session: Session, incident_id: int) -> list[Alert]:
    return list(
        session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id)).all()
    )


def acknowledge(session: Session, incident_id: int, *, actor: str, now: datetime) -> Incident:
    incident = get_incident(session, incident_id, for_update=True)
    if incident.status != "open":
        raise InvalidTransition(
            f"incident {incident_id} is {incident.status}; only an open incident can be acknowledged"
        )
    incident.status = "acknowledged"
    incident.acknowledged_at = now
    incident.acknowledged_by = actor
    incident.updated_at = now
    audit(session, at=now, actor=actor, subject=f"incident:{incident_id}", action="incident.acknowledged")
    enqueue(
        session, kind="incident.event", payload={"incident_id": incident_id, "event": "acknowledged"}, now=now
    )
    return incident


def resolve(session: Session, incident_id: int, *, actor: str, now: datetime, reason: str = "") -> Incident:
    incident = get_incident(session, incident_id, for_update=True)
    if incident.status == "resolved":
        raise InvalidTransition(f"incident {incident_id} is already resolved")
    incident.status = "resolved"
    incident.open_group_key = None
    incident.resolved_at = now
    incident.resolved_by = actor
    incident.updated_at = now
    audit(
        session,
        at=now,
        actor=actor,
        subject=f"incident:{incident_id}",
        action="incident.resolved",
        details={"reason": reason or "resolved by hand"},
    )
    enqueue(
        session, kind="incident.event", payload={"incident_id": incident_id, "event": "resolved"}, now=now
    )
    return incident
