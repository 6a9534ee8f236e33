"""Block Kit for `/conductor` replies: help, status, lists, run requests and errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.errors import (
    AlreadyDecided,
    ApprovalExpired,
    ApproverNotAllowed,
    ConductorError,
    IntegrationError,
    InvalidTarget,
    InvalidTransition,
    MalformedPayload,
    NotFound,
    PermissionDenied,
    RunbookNotFound,
)
from bot.slack.blocks import SEVERITY_EMOJI, context, render_plan, section
from bot.slack.commands import CommandUsageError, IncidentScope
from bot.slack.ports import RunbookSummary, RunRequestState, RunRequestView, SilenceView, StatusView
from bot.slack.signing import ForgedAction
from bot.slack.text import code, format_duration, safe, slack_time
from bot.slack.views import IncidentView
from integrations.slack.wire import SlackMessage

MAX_LIST = 20


def _message(text: str, fallback: str | None = None) -> SlackMessage:
    return SlackMessage(text=fallback or text, blocks=[section(text[:2990])])


def render_help(text: str) -> SlackMessage:
    return _message(text, "Cloud Conductor help")


def render_status(view: StatusView) -> SlackMessage:
    lines = [
        f"*Open incidents* {view.open_incidents} · *Pending approvals* {view.pending_approvals}"
        f" · *Runs in flight* {view.runs_in_flight}"
    ]
    for health in view.integrations:
        mark = (
            ":white_circle: off"
            if health.ok is None
            else (":large_green_circle: ok" if health.ok else ":red_circle: failing")
        )
        detail = f" — {safe(health.detail, 200)}" if health.detail else ""
        lines.append(f"• {safe(health.name, 40)}: {mark}{detail}")
    fallback = (
        f"{view.open_incidents} open incidents, {view.pending_approvals} pending approvals, "
        f"{view.runs_in_flight} runs in flight"
    )
    return _message("\n".join(lines), fallback)


def render_incident_list(incidents: Sequence[IncidentView], scope: IncidentScope) -> SlackMessage:
    if not incidents:
        return _message(f"No {'open ' if scope is IncidentScope.OPEN else ''}incidents.")
    lines = [f"*{len(incidents)} {scope.value} incident(s)*"]
    for incident in incidents[:MAX_LIST]:
        emoji = SEVERITY_EMOJI.get(incident.severity.lower(), ":white_circle:")
        lines.append(
            f"{emoji} {code(incident.id, 60)} {safe(incident.title, 150)} · {safe(incident.status, 30)}"
            f" · {safe(incident.resource, 120)} · opened {slack_time(incident.opened_at)}"
        )
    if len(incidents) > MAX_LIST:
        lines.append(f"_… and {len(incidents) - MAX_LIST} more_")
    return _message("\n".join(lines), f"{len(incidents)} {scope.value} incident(s)")


def render_runbook_list(runbooks: Sequence[RunbookSummary]) -> SlackMessage:
    if not runbooks:
        return _message("No runbooks are enabled.")
    lines = ["*Runbooks* — `/conductor run RUNBOOK TARGET [key=value ...] [--dry-run]`"]
    for rb in runbooks:
        lines.append(
            f"• {code(rb.id, 80)} {safe(rb.summary, 200)} · target `{safe(rb.target_kind, 40)}/…`"
            f" · risk {rb.risk.value} · approval {safe(rb.approval, 60)}"
        )
    return _message("\n".join(lines), f"{len(runbooks)} runbook(s)")


def render_silence_list(silences: Sequence[SilenceView], *, now: datetime) -> SlackMessage:
    if not silences:
        return _message("No active silences.")
    lines = [f"*{len(silences)} active silence(s)*"]
    for s in silences[:MAX_LIST]:
        matchers = " ".join(code(m, 120) for m in s.matchers)
        left = format_duration(s.ends_at - now)
        line = f"• {code(s.id, 60)} {matchers} · {left} left · by {safe(s.created_by, 60)}"
        if s.comment:
            line += f" · {safe(s.comment, 200)}"
        lines.append(line)
    return _message("\n".join(lines), f"{len(silences)} active silence(s)")


def render_silence_done(view: SilenceView, *, added: bool) -> SlackMessage:
    matchers = " ".join(code(m, 120) for m in view.matchers)
    if added:
        text = f":mute: Silence {code(view.id, 60)} for {matchers} until {slack_time(view.ends_at)}"
    else:
        text = f":sound: Silence {code(view.id, 60)} expired"
    return _message(text)


def render_run_request(view: RunRequestView) -> SlackMessage:
    what = f"{code(view.runbook_id, 100)} on {code(view.target, 200)}"
    run = f" (run {code(view.run_id, 60)})" if view.run_id else ""
    heads = {
        RunRequestState.STARTED: f":arrow_forward: Started {what}{run}",
        RunRequestState.AWAITING_APPROVAL: f":hourglass_flowing_sand: {what} awaits approval{run}",
        RunRequestState.DRY_RUN: f":mag: Dry run of {what}: nothing was changed",
        RunRequestState.REFUSED: f":no_entry: Not running {what}",
    }
    text = heads[view.state]
    if view.reason:
        text += f": {safe(view.reason, 500)}"
    blocks = [section(text)]
    if view.plan is not None:
        blocks.append(section(render_plan(view.plan)))
    if view.approval is not None and view.state is RunRequestState.AWAITING_APPROVAL:
        blocks.append(
            context(
                "Approve or deny in the incident thread, or "
                f"`/conductor approve {safe(view.run_id or '', 60)}`"
            )
        )
    return SlackMessage(
        text=f"{view.state.value}: {safe(view.runbook_id, 100)} on {safe(view.target, 200)}", blocks=blocks
    )


def render_error(error: ConductorError) -> SlackMessage:
    """A named error as a reply a person can act on. Never a stack trace."""
    if isinstance(error, CommandUsageError):
        return _message(error.text, error.reason or "Cloud Conductor help")
    if isinstance(error, ForgedAction) and not isinstance(error, ApprovalExpired):
        text = ":no_entry: That button is not valid for this run."
    elif isinstance(error, ApproverNotAllowed):
        text = f":no_entry: You may not decide this approval. {safe(error, 300)}".rstrip()
    elif isinstance(error, PermissionDenied):
        text = f":no_entry: You may not do that: {safe(error, 300)}"
    elif isinstance(error, ApprovalExpired):
        text = ":hourglass: This approval has expired."
    elif isinstance(error, AlreadyDecided):
        text = f":information_source: Already decided. {safe(error, 300)}".rstrip()
    elif isinstance(error, RunbookNotFound):
        text = f":grey_question: {safe(error, 300)} — see `/conductor runbooks`"
    elif isinstance(error, NotFound | InvalidTransition | InvalidTarget):
        text = f":grey_question: {safe(error, 500)}"
    elif isinstance(error, MalformedPayload):
        text = f":warning: {safe(error.reason, 500)}"
    elif isinstance(error, IntegrationError):
        again = " Try again in a moment." if error.retryable else ""
        text = f":warning: {safe(error.system or 'an integration', 40)} failed.{again}"
    else:
        text = f":warning: {safe(error, 500)}"
    return _message(text)
