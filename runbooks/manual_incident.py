"""The incident a notifying runbook describes: the run's own, or one given in its params.

Not a runbook itself: `jira.open_ticket` and the downstream runbooks (`aws.sqs.send_message`,
`aws.sns.publish`, `webhook.post`) share it, so a manual run without an incident is described
the same way everywhere.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.runbook_kit.spec import IncidentContext, RunContext


class ManualIncidentParams(BaseModel):
    """The incident fields, for manual runs without an incident."""

    model_config = ConfigDict(extra="forbid")

    incident_id: str | None = Field(None, min_length=1, description="Used when the run has no incident.")
    title: str | None = Field(None, min_length=1, description="Title when the run has no incident.")
    severity: str = Field("unknown", description="Severity when the run has no incident.")
    summary: str = Field("", description="Summary when the run has no incident.")


def incident_of(ctx: RunContext, params: ManualIncidentParams, *, status: str) -> IncidentContext | None:
    """The run's incident, or one described by the params (with `status`), or None."""
    if ctx.incident is not None:
        return ctx.incident
    if params.incident_id and params.title:
        return IncidentContext(
            incident_id=params.incident_id,
            title=params.title,
            severity=params.severity,
            status=status,
            summary=params.summary,
        )
    return None
