"""An in-memory `SlackCore` for the dispatch tests: just enough state to show that refusals
change nothing and that state changes are audited with the Slack user."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.access.policy import AccessRequest, Refused, authorize
from bot.errors import (
    AlreadyDecided,
    ApprovalExpired,
    ApproverNotAllowed,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from bot.matching import Matcher
from bot.roles import Principal, Role
from bot.runbook_kit.spec import Risk
from bot.runbook_kit.targets import Target
from bot.slack.commands import IncidentScope
from bot.slack.ports import RunbookSummary, RunRequestState, RunRequestView, SilenceView, StatusView
from bot.slack.signing import ApprovalAction
from bot.slack.views import ApprovalState, ApprovalView, IncidentView, Vote
from integrations.slack.wire import SlackActor


@dataclass
class MemoryCore:
    now: datetime
    incidents_by_id: dict[str, IncidentView] = field(default_factory=dict)
    approvals: dict[str, ApprovalView] = field(default_factory=dict)  # by run id
    messages: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, ts) -> run id
    approvers: frozenset[str] = frozenset()  # user ids allowed to decide
    audit: list[tuple[str, str, str]] = field(default_factory=list)  # (actor, action, detail)
    roles: dict[str, Role] = field(default_factory=dict)  # user id -> role (default: responder)

    def authorize(self, request: AccessRequest, *, actor: SlackActor) -> None:
        """The real decision, with roles from `roles`."""
        principal = Principal(actor.audit_name, self.roles.get(actor.user_id, Role.RESPONDER))
        decision = authorize(principal, request)
        if isinstance(decision, Refused):
            self.audit.append((actor.audit_name, "access.refused", decision.reason.value))
            raise PermissionDenied(decision.detail, reason=decision.reason.value)

    def status(self) -> StatusView:
        pending = sum(a.state is ApprovalState.PENDING for a in self.approvals.values())
        return StatusView(len(self.incidents_by_id), pending, 0)

    def incidents(self, scope: IncidentScope) -> Sequence[IncidentView]:
        return [
            i for i in self.incidents_by_id.values() if scope is IncidentScope.ALL or i.status != "resolved"
        ]

    def incident(self, incident_id: str) -> IncidentView:
        if incident_id not in self.incidents_by_id:
            raise NotFound(f"no incident {incident_id}")
        return self.incidents_by_id[incident_id]

    def runbooks(self) -> Sequence[RunbookSummary]:
        return [
            RunbookSummary(
                "aws.glue.restart_job",
                "Restart",
                "Restart a failed Glue job",
                Risk.LOW,
                "aws:glue:job",
                "never",
            )
        ]

    def silences(self) -> Sequence[SilenceView]:
        return []

    def approval_for_message(self, channel: str, message_ts: str) -> ApprovalView | None:
        run_id = self.messages.get((channel, message_ts))
        return self.approvals.get(run_id) if run_id else None

    def acknowledge(self, incident_id: str, *, actor: SlackActor) -> IncidentView:
        incident = self.incident(incident_id)
        if incident.status != "open":
            raise InvalidTransition(f"incident {incident_id} is {incident.status}")
        self.incidents_by_id[incident_id] = replace(
            incident, status="acknowledged", acknowledged_by=actor.user_id
        )
        self.audit.append((actor.audit_name, "ack", incident_id))
        return self.incidents_by_id[incident_id]

    def resolve(self, incident_id: str, *, actor: SlackActor) -> IncidentView:
        incident = self.incident(incident_id)
        self.incidents_by_id[incident_id] = replace(incident, status="resolved")
        self.audit.append((actor.audit_name, "resolve", incident_id))
        return self.incidents_by_id[incident_id]

    def request_run(
        self, runbook_id: str, target: Target, params: Mapping[str, str], *, dry_run: bool, actor: SlackActor
    ) -> RunRequestView:
        self.audit.append((actor.audit_name, "run", f"{runbook_id} {target}"))
        state = RunRequestState.DRY_RUN if dry_run else RunRequestState.STARTED
        return RunRequestView("run-9", runbook_id, str(target), state, params=params)

    def decide(
        self, run_id: str, action: ApprovalAction, *, actor: SlackActor, reason: str = ""
    ) -> ApprovalView:
        approval = self.approvals.get(run_id)
        if approval is None:
            raise NotFound(f"no approval for run {run_id}")
        if actor.user_id not in self.approvers:
            self.audit.append((actor.audit_name, "refused", run_id))
            raise ApproverNotAllowed(f"{actor.user_id} is not an approver")
        if approval.state is not ApprovalState.PENDING:
            raise AlreadyDecided(f"run {run_id} was {approval.state.value}")
        if self.now >= approval.expires_at:
            raise ApprovalExpired(f"run {run_id}")
        vote = Vote(actor.user_id, self.now, reason)
        if action is ApprovalAction.DENY:
            approval = replace(approval, state=ApprovalState.DENIED, denial=vote)
        else:
            votes = (*approval.approvals, vote)
            state = ApprovalState.APPROVED if len(votes) >= approval.quorum else ApprovalState.PENDING
            approval = replace(approval, approvals=votes, state=state)
        self.approvals[run_id] = approval
        self.audit.append((actor.audit_name, action.value, run_id))
        return approval

    def add_silence(
        self, matchers: Sequence[Matcher], duration: timedelta, comment: str, *, actor: SlackActor
    ) -> SilenceView:
        self.audit.append((actor.audit_name, "silence", " ".join(map(str, matchers))))
        return SilenceView("sil-1", tuple(matchers), self.now, self.now + duration, actor.audit_name, comment)

    def expire_silence(self, silence_id: str, *, actor: SlackActor) -> SilenceView:
        raise NotFound(f"no silence {silence_id}")

    def audit_refusal(self, *, actor: SlackActor, action: str, reason: str) -> None:
        self.audit.append((actor.audit_name, "refused", reason))
