"""What the downstream runbooks share: their parameters and the message they send.

Not a runbook itself: `aws.sqs.send_message`, `aws.sns.publish` and `webhook.post` import it.
"""

from __future__ import annotations

from pydantic import Field

from bot.runbook_kit.spec import Plan, RunContext
from integrations.downstream.message import IncidentMessage, incident_message
from integrations.downstream.settings import DownstreamSettings
from runbooks.manual_incident import ManualIncidentParams, incident_of


class IncidentMessageParams(ManualIncidentParams):
    """Parameters of the downstream runbooks. The incident fields are for manual runs without one."""

    service: str | None = Field(
        None, min_length=1, description="The message's service (default: the incident's `service` label)."
    )


def message_for(ctx: RunContext, params: IncidentMessageParams) -> IncidentMessage | None:
    """The message this run sends, or None when there is no incident to describe."""
    incident = incident_of(ctx, params, status="open")
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
