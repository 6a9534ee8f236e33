"""What the downstream runbooks share: their parameters and the message they send.

Not a runbook itself: `aws.sqs.send_message`, `aws.sns.publish` and `webhook.post` import it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.runbook_kit.spec import IncidentContext, Plan, RunContext
from integrations.downstream.message import IncidentMessage, incident_message
from integrations.downstream.settings import DownstreamSettings


class IncidentMessageParams(BaseModel):
    """Parameters of the downstream runbooks. The incident fields are for manual runs without one."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = Field(
        None, min_length=1, description="The message's service (default: the incident's `service` label)."
    )
    incident_id: str | None = Field(None, min_length=1, description="Used when the run has no incident.")
    title: str | None = Field(None, min_length=1, description="Title when the run has no incident.")
    severity: str = Field("unknown", description="Severity when the run has no incident.")
    summary: str = Field("", description="Summary when the run has no incident.")


def incident_of(ctx: RunContext, params: IncidentMessageParams) -> IncidentContext | None:
    """The run's incident, or one described by the params (manual runs), or None."""
    if ctx.incident is not None:
        return ctx.incident
    if params.incident_id and params.title:
        return IncidentContext(
            incident_id=params.incident_id,
            title=params.title,
            severity=params.severity,
            status="open",
            summary=params.summary,
        )
    return None


def message_for(ctx: RunContext, params: IncidentMessageParams) -> IncidentMessage | None:
    """The message this run sends, or None when there is no incident to describe."""
    incident = incident_of(ctx, params)
    if incident is None:
        return None
    settings = ctx.services.get(DownstreamSettings)
    return incident_message(
        incident,
        run_id=ctx.run_id,
        now=ctx.clock(),
        link_template=settings.incident_link,
        service=params.service,
    )


NO_INCIDENT = Plan(summary="no incident: pass incident_id and title for a manual run", verdict="no_incident")
