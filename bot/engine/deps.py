"""What the engine needs from the rest of the application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config.root import Settings
from bot.errors import ConductorError, InvalidTarget, RunbookNotFound
from bot.jobs import enqueue
from bot.runbook_kit.spec import REGISTRY, IncidentContext, RunbookRegistry, RunbookSpec, RunContext, Services
from bot.runbook_kit.targets import Target, parse_target
from bot.store.db import Store
from bot.store.models import Alert, Incident


class InvalidParams(ConductorError):
    """Runbook parameters that do not fit the runbook's parameter model."""


# Returns the incident's current anomaly score (for "the score fell" verification), or None.
ScoreNow = Callable[[int], float | None]


@dataclass
class EngineDeps:
    store: Store
    settings: Settings
    services: Services
    clock: Callable[[], datetime]
    registry: RunbookRegistry = REGISTRY
    score_now: ScoreNow | None = None
    # Called after a run changes in a way people should see (reporting hooks in).
    on_change: list[Callable[[Session, int, str], None]] = field(default_factory=list)

    def spec(self, runbook_id: str) -> RunbookSpec[Any]:
        spec = self.registry.get(runbook_id)
        if spec is None:
            raise RunbookNotFound(f'no runbook named "{runbook_id}" (see `conductor runbooks list`)')
        return spec

    def context(self, run_id: str, incident: IncidentContext | None, requested_by: str) -> RunContext:
        return RunContext(
            run_id=run_id,
            services=self.services,
            clock=self.clock,
            incident=incident,
            requested_by=requested_by,
        )

    def notify(self, session: Session, run_id: int, event: str) -> None:
        enqueue(session, kind="run.event", payload={"run_id": run_id, "event": event}, now=self.clock())
        for hook in self.on_change:
            hook(session, run_id, event)


def parse_for(spec: RunbookSpec[Any], target: str, params: dict[str, Any]) -> tuple[Target, BaseModel]:
    parsed = parse_target(target)
    if parsed.kind != spec.target_kind:
        raise InvalidTarget(f"{spec.id} acts on {spec.target_kind}/..., not {parsed.kind}")
    try:
        model = spec.params.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidParams(f"{spec.id} parameters: {problems}") from None
    return parsed, model


def incident_alerts(session: Session, incident_id: int) -> list[Alert]:
    return list(session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id)))


def incident_context_with_alerts(incident: Incident, alerts: list[Alert]) -> IncidentContext:
    """The incident as runbooks and reporters see it: its alerts' labels (`service`...) and links,
    plus `resource` and `provider` labels, and the first alert's summary."""
    labels: dict[str, str] = {}
    links: list[str] = []
    for alert in alerts:
        labels.update(alert.labels or {})
        links.extend(link for link in alert.links or [] if link not in links)
    resource = incident.resource_id or incident.resource_type
    return IncidentContext(
        incident_id=str(incident.id),
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        summary=(alerts[0].summary if alerts else "") or incident.decision_reason,
        anomaly_score=incident.anomaly_score,
        explanation=incident.explanation,
        labels={**labels, "resource": resource, "provider": incident.provider},
        links=links,
    )


def load_incident_context(session: Session, incident_id: int | None) -> IncidentContext | None:
    """`incident_context_with_alerts` for an incident id (None when there is none)."""
    incident = session.get(Incident, incident_id) if incident_id is not None else None
    if incident is None:
        return None
    return incident_context_with_alerts(incident, incident_alerts(session, incident.id))
