"""From a parsed command or a button click to one `SlackCore` call and a rendered reply.

Bolt listeners call these after `ack()`: `handle_command_text` for `/conductor`, and
`handle_approval_click` for the Approve / Deny buttons. Both turn the named errors into replies;
anything else is a bug for the listener's single top-level handler to log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.access.policy import AccessRequest, Action, AddSilence, Do
from bot.errors import ApproverNotAllowed, ConductorError
from bot.slack.blocks import render_approval_outcome, render_incident, section
from bot.slack.commands import (
    Ack,
    Approve,
    Command,
    Deny,
    Help,
    ListIncidents,
    ListRunbooks,
    ListSilences,
    Resolve,
    Run,
    ShowIncident,
    Silence,
    Status,
    Unsilence,
    help_for,
    parse_command,
)
from bot.slack.policy_commands import execute_policy_command
from bot.slack.policy_grammar import POLICY_COMMAND_TYPES, RunSuggestion
from bot.slack.ports import SlackCore
from bot.slack.replies import (
    render_error,
    render_help,
    render_incident_list,
    render_run_request,
    render_runbook_list,
    render_silence_done,
    render_silence_list,
    render_status,
)
from bot.slack.signing import ActionClaim, ActionSigner, ApprovalAction, ForgedAction, action_for_action_id
from bot.slack.views import ApprovalView
from integrations.slack.wire import SlackActor, SlackMessage


def access_for(command: Command) -> AccessRequest | None:
    """What a command asks of the authorization decision. Approve and deny are decided by the
    engine against the run's own `[approvals]` entry; help needs nothing."""
    match command:
        case Help():
            return None
        case Status() | ListIncidents() | ShowIncident() | ListRunbooks() | ListSilences():
            return Do(Action.READ)
        case Ack():
            return Do(Action.ACKNOWLEDGE)
        case Resolve():
            return Do(Action.RESOLVE)
        case Run(dry_run=dry_run):
            return Do(Action.PREVIEW if dry_run else Action.RUN)
        case Silence(matchers, duration):
            return AddSilence(tuple(matchers), duration)
        case Unsilence():
            return Do(Action.UNSILENCE)
        case Approve() | Deny():
            return None


def execute_command(command: Command, *, actor: SlackActor, core: SlackCore, now: datetime) -> SlackMessage:
    """Check the actor may, run one parsed command against the core and render the reply
    (errors propagate)."""
    request = access_for(command)
    if request is not None:
        core.authorize(request, actor=actor)
    match command:
        case Help(topic):
            return render_help(help_for(topic))
        case Status():
            return render_status(core.status())
        case ListIncidents(scope):
            return render_incident_list(core.incidents(scope), scope)
        case ShowIncident(incident_id):
            return render_incident(core.incident(incident_id))
        case Ack(incident_id):
            return render_incident(core.acknowledge(incident_id, actor=actor))
        case Resolve(incident_id):
            return render_incident(core.resolve(incident_id, actor=actor))
        case ListRunbooks():
            return render_runbook_list(core.runbooks())
        case Run(runbook, target, params, dry_run):
            return render_run_request(core.request_run(runbook, target, params, dry_run=dry_run, actor=actor))
        case Approve(run_id):
            return _decided(core.decide(run_id, ApprovalAction.APPROVE, actor=actor))
        case Deny(run_id, reason):
            return _decided(core.decide(run_id, ApprovalAction.DENY, actor=actor, reason=reason))
        case Silence(matchers, duration, comment):
            return render_silence_done(core.add_silence(matchers, duration, comment, actor=actor), added=True)
        case ListSilences():
            return render_silence_list(core.silences(), now=now)
        case Unsilence(silence_id):
            return render_silence_done(core.expire_silence(silence_id, actor=actor), added=False)


def _decided(approval: ApprovalView) -> SlackMessage:
    text = render_approval_outcome(approval)
    return SlackMessage(text=f"approval {approval.state.value}", blocks=[section(text)])


def handle_command_text(text: str, *, actor: SlackActor, core: SlackCore, now: datetime) -> SlackMessage:
    """Parse and run `/conductor TEXT`; usage and named errors become replies."""
    try:
        command = parse_command(text)
        if isinstance(command, POLICY_COMMAND_TYPES):
            return execute_policy_command(command, actor=actor, core=core, now=now)
        return execute_command(command, actor=actor, core=core, now=now)
    except ConductorError as error:
        return render_error(error)


@dataclass(frozen=True, slots=True)
class ClickResult:
    """What a button click led to. `approval` is set when a vote was recorded: re-render the
    parent message from the store and chat.update it. `ephemeral` goes to the clicker only."""

    approval: ApprovalView | None
    ephemeral: SlackMessage | None
    claim: ActionClaim | None = None


def handle_suggestion_click(*, value: str, actor: SlackActor, core: SlackCore, now: datetime) -> SlackMessage:
    """ "Run it" on a suggestion: the clicker must be a responder; the engine requests the run
    as them (once per suggestion) through the runbook's approval policy."""
    try:
        if not value.isdigit():
            raise ForgedAction("the button does not name a run")
        return execute_policy_command(RunSuggestion(int(value)), actor=actor, core=core, now=now)
    except ForgedAction as error:
        core.audit_refusal(actor=actor, action="slack button run suggestion", reason=str(error))
        return render_error(error)
    except ConductorError as error:
        return render_error(error)


def handle_approval_click(
    *,
    value: str,
    action_id: str,
    channel: str,
    message_ts: str,
    actor: SlackActor,
    core: SlackCore,
    signer: ActionSigner,
    now: datetime,
) -> ClickResult:
    """Check a clicked button against the approval the store links to that message, then vote.

    A forged, replayed or expired value, a non-approver and a decided approval change nothing
    and answer the clicker alone.
    """
    action = action_for_action_id(action_id)
    shown = core.approval_for_message(channel, message_ts)
    try:
        if action is None or shown is None:
            raise ForgedAction("the button does not belong to a known approval")
        claim = signer.verify(
            value, now=now, run_id=shown.run_id, approval_id=shown.approval_id, expected_action=action
        )
        approval = core.decide(claim.run_id, claim.action, actor=actor)
    except ForgedAction as error:
        core.audit_refusal(actor=actor, action=f"slack button {action_id}", reason=str(error))
        return ClickResult(approval=None, ephemeral=render_error(error))
    except ApproverNotAllowed as error:  # the core audited it
        return ClickResult(approval=None, ephemeral=render_error(error))
    except ConductorError as error:
        return ClickResult(approval=None, ephemeral=render_error(error))
    return ClickResult(approval=approval, ephemeral=None, claim=claim)
