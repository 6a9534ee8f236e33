"""Store rows as the small views reporters render."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.engine.deps import incident_alerts, incident_context_with_alerts
from bot.runbook_kit.spec import IncidentContext
from bot.store.models import Alert, Incident


def incident_view(session: Session, incident_id: int) -> tuple[Incident, IncidentContext, list[Alert]] | None:
    incident = session.get(Incident, incident_id)
    if incident is None:
        return None
    alerts = incident_alerts(session, incident_id)
    return incident, incident_context_with_alerts(incident, alerts), alerts
