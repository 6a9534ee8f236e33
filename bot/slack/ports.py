"""What the Slack layer needs from the core, as a Protocol the core implements.

The Bolt listeners stay thin: parse (`commands.parse_command`), call one `SlackCore` method
through `dispatch`, render. Methods that take an `actor` change state and must write the audit
record themselves (with `actor.audit_name`), refusals included. They raise the named errors of
`bot.errors` (NotFound, InvalidTransition, RunbookNotFound, InvalidTarget, MalformedPayload,
ApproverNotAllowed, AlreadyDecided, ApprovalExpired, IntegrationError); `dispatch` turns those
into replies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.access.policy import AccessRequest
from bot.matching import Matcher
from bot.runbook_kit.spec import Plan, Risk
from bot.runbook_kit.targets import Target
from bot.slack.commands import IncidentScope
from bot.slack.policy_grammar import PolicyCommand
from bot.slack.signing import ApprovalAction
from bot.slack.views import ApprovalView, IncidentView
from integrations.slack.wire import SlackActor, SlackMessage


@dataclass(frozen=True, slots=True)
class IntegrationHealth:
    name: str  # "aws", "jira", "pagerduty", ...
    ok: bool | None  # None: not configured (off)
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StatusView:
    open_incidents: int
    pending_approvals: int
    runs_in_flight: int
    integrations: tuple[IntegrationHealth, ...] = ()


@dataclass(frozen=True, slots=True)
class RunbookSummary:
    id: str
    title: str
    summary: str  # first line of the docstring
    risk: Risk
    target_kind: str
    approval: str  # ApprovalPolicy.describe(), e.g. "when risk >= medium"


@dataclass(frozen=True, slots=True)
class SilenceView:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str = ""


class RunRequestState(StrEnum):
    STARTED = "started"
    AWAITING_APPROVAL = "awaiting_approval"
    DRY_RUN = "dry_run"
    REFUSED = "refused"  # budget exhausted, target locked, cooldown... (`reason` says which)


@dataclass(frozen=True, slots=True)
class RunRequestView:
    """What happened to `/conductor run ...`."""

    run_id: str | None
    runbook_id: str
    target: str
    state: RunRequestState
    plan: Plan | None = None
    reason: str = ""
    approval: ApprovalView | None = None
    params: Mapping[str, str] = field(default_factory=dict)


class PolicyRunner(Protocol):
    """Runs a policy command (`/conductor freeze|resume|runit`, "Run it") for an authorized actor."""

    def execute(self, command: PolicyCommand, *, actor: SlackActor, now: datetime) -> SlackMessage: ...


class SlackCore(Protocol):
    def authorize(self, request: AccessRequest, *, actor: SlackActor) -> None:
        """Raise `PermissionDenied` (and audit it) unless the actor's role allows `request`
        (`bot.access.policy.authorize`, the same decision the CLI and the API make)."""
        ...

    # --- read ---
    def status(self) -> StatusView: ...

    def incidents(self, scope: IncidentScope) -> Sequence[IncidentView]: ...

    def incident(self, incident_id: str) -> IncidentView: ...

    def runbooks(self) -> Sequence[RunbookSummary]: ...

    def silences(self) -> Sequence[SilenceView]: ...

    def approval_for_message(self, channel: str, message_ts: str) -> ApprovalView | None:
        """The pending (or last) approval shown in this parent message, from the store — the
        trusted binding a clicked button value is checked against."""
        ...

    # --- change (each audited with the actor) ---
    def acknowledge(self, incident_id: str, *, actor: SlackActor) -> IncidentView: ...

    def resolve(self, incident_id: str, *, actor: SlackActor) -> IncidentView: ...

    def request_run(
        self,
        runbook_id: str,
        target: Target,
        params: Mapping[str, str],
        *,
        dry_run: bool,
        actor: SlackActor,
    ) -> RunRequestView: ...

    def decide(
        self, run_id: str, action: ApprovalAction, *, actor: SlackActor, reason: str = ""
    ) -> ApprovalView:
        """Record an approve/deny vote. The core checks the approver rule (users and user-group
        membership), quorum, expiry and prior decisions, and audits refusals too."""
        ...

    def add_silence(
        self, matchers: Sequence[Matcher], duration: timedelta, comment: str, *, actor: SlackActor
    ) -> SilenceView: ...

    def expire_silence(self, silence_id: str, *, actor: SlackActor) -> SilenceView: ...

    def policies(self) -> PolicyRunner:
        """Freezes, circuits and suggestions."""
        ...

    def audit_refusal(self, *, actor: SlackActor, action: str, reason: str) -> None:
        """Audit a refused attempt the core never saw (a forged or replayed button value)."""
        ...
