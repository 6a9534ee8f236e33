"""Store rows as the small views reporters render."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.engine.deps import incident_context
from bot.runbook_kit.spec import IncidentContext
from bot.store.models import Alert, Incident


def incident_view(session: Session, incident_id: int) -> tuple[Incident, IncidentContext, list[Alert]] | None:
    incident = session.get(Incident, incident_id)
    if incident is None:
        return None
    alerts = list(session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id)))
    base = incident_context(incident)
    assert base is not None
    labels: dict[str, str] = {}
    links: list[str] = []
    for alert in alerts:
        labels.update(alert.labels or {})
        links.extend(link for link in alert.links or [] if link not in links)
    resource = incident.resource_id or incident.resource_type
    context = IncidentContext(
        incident_id=base.incident_id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        summary=(alerts[0].summary if alerts else "") or incident.decision_reason,
        anomaly_score=incident.anomaly_score,
        explanation=incident.explanation,
        labels={**labels, "resource": resource, "provider": incident.provider},
        links=links,
    )
    return incident, context, alerts
