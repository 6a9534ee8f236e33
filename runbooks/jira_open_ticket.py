"""Runbook `jira.open_ticket`: make sure the incident has exactly one Jira ticket."""

from __future__ import annotations

from datetime import timedelta

from bot.runbook_kit.spec import (
    ApprovalPolicy,
    Budget,
    Plan,
    PlannedCall,
    Risk,
    RunContext,
    RunResult,
    runbook,
)
from bot.runbook_kit.targets import Target
from integrations.jira.client import JiraTickets, repeat_comment
from runbooks.manual_incident import ManualIncidentParams, incident_of

RUNBOOK_ID = "jira.open_ticket"


class OpenTicketParams(ManualIncidentParams):
    """Parameters of `jira.open_ticket`. The incident fields are for manual runs without an incident."""


def plan_ticket(ctx: RunContext, target: Target, params: OpenTicketParams) -> Plan:
    """Read-only: search the incident label; plan a comment on the ticket found, or a new ticket."""
    incident = incident_of(ctx, params, status="firing")
    if incident is None:
        return Plan(summary="no incident: pass incident_id and title for a manual run", verdict="no_incident")
    tickets = ctx.services.get(JiraTickets)
    label = tickets.incident_label(incident.incident_id)
    key = tickets.find_ticket(incident.incident_id)
    if key is not None:
        call = PlannedCall(
            system="jira",
            operation="AddComment",
            params={"issue": key},
            after=repeat_comment(incident),
            description=f"comment on {key}, the ticket of incident {incident.incident_id}",
        )
        return Plan(
            summary=f"comment on {key} ({tickets.browse_url(key)})",
            calls=[call],
            findings={"ticket": key, "label": label},
        )
    fields = tickets.new_issue_fields(incident, project=target.part("key"))
    shown = {k: v for k, v in fields.items() if k != "description"}
    call = PlannedCall(
        system="jira",
        operation="CreateIssue",
        params=shown,
        after=fields["summary"],
        description=f"open a {tickets.settings.issue_type} in {target.part('key')} labelled {label}",
    )
    return Plan(
        summary=f"open a ticket in {target.part('key')}: {fields['summary']}",
        calls=[call],
        findings={"ticket": None, "label": label},
    )


@runbook(
    id=RUNBOOK_ID,
    title="Open (or update) the incident's Jira ticket",
    risk=Risk.LOW,
    params=OpenTicketParams,
    target_kind="jira:project",
    plan=plan_ticket,
    timeout=timedelta(minutes=2),
    budget=Budget(max_runs=30, window=timedelta(hours=1)),
    approval=ApprovalPolicy.never(),
    idempotent=True,
    notification=True,  # done once sent: a ticket or a page fixes nothing to verify
)
def open_jira_ticket(ctx: RunContext, target: Target, params: OpenTicketParams) -> RunResult:
    """Open one Jira ticket per incident, or comment on it when the incident fires again.

    The ticket carries the label `conductor-incident-<id>`; a JQL search for that label finds
    it again, so repeating this runbook never opens a second ticket. New tickets go to the
    target project with the configured issue type, labels and a priority mapped from the
    incident's severity; the description holds the anomaly explanation and links.
    Params (manual runs without an incident): incident_id, title, severity, summary.
    """
    incident = incident_of(ctx, params, status="firing")
    if incident is None:
        return RunResult.failed("no incident: pass incident_id and title for a manual run")
    ticket = ctx.services.get(JiraTickets).ensure_ticket(incident, project=target.part("key"))
    verb = "opened" if ticket.created else "commented on"
    return RunResult.changed(f"{verb} {ticket.key}", key=ticket.key, url=ticket.url, created=ticket.created)
