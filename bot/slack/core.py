"""`StoreSlackCore`: the `SlackCore` the Slack listeners call, over the store and the engine.

Reads come from the store; changes go through the same functions the CLI and the API use (the
incidents service, silences, the run engine), with the Slack user as the actor (`slack:U123`),
so every change — and every refusal — is audited with who did it.

Identity: a Slack user acts as `slack:<user id>` (run requests, acks, silences, audit), with the
role `[permissions]` grants them (`bot.access.grants`): every command is checked by the same
authorization decision as the CLI and the API before it runs, and a refusal is audited. Approver
rules come from `[approvals]`: `users` may list `U…` or `slack:U…`; `groups` may be Slack
user-group ids (members are read from Slack) or names under `[approvals.groups]` whose members
are spelled either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.access.grants import Grants
from bot.access.guard import Guard
from bot.access.policy import AccessRequest
from bot.audit import audit
from bot.engine.approvals import Vote
from bot.engine.engine import Engine
from bot.engine.requests import RunRequest
from bot.engine.services import integration_status
from bot.engine.states import RunStatus
from bot.errors import NotFound
from bot.incidents import service as incidents
from bot.incidents import silences
from bot.matching import Matcher
from bot.roles import Principal
from bot.runbook_kit.targets import Target
from bot.slack.commands import IncidentScope
from bot.slack.policy_commands import SlackPolicies
from bot.slack.ports import (
    IntegrationHealth,
    RunbookSummary,
    RunRequestState,
    RunRequestView,
    SilenceView,
    StatusView,
)
from bot.slack.signing import ApprovalAction
from bot.slack.usergroups import UserGroupCache
from bot.slack.viewmodels import (
    ViewContext,
    approval_of,
    approval_view,
    incident_view,
    run_approval,
    shown_run,
)
from bot.slack.views import ApprovalView, IncidentView
from bot.store.db import Store
from bot.store.models import Approval, Incident, Notification, RunbookRun
from bot.store.models import Silence as SilenceRow
from integrations.slack.wire import SlackActor

if TYPE_CHECKING:
    from bot.config.root import Settings

IN_FLIGHT = (
    RunStatus.APPROVED.value,
    RunStatus.RUNNING.value,
    RunStatus.UNKNOWN.value,
    RunStatus.VERIFYING.value,
)
MAX_LISTED = 50
_NUMBER = re.compile(r"(?:[A-Za-z]+-)?#?(\d{1,12})\Z")
# The notification-log key of a run's own parent message (runs without an incident).
RUN_PARENT_KEY = "slack:run:{run_id}:parent"
_RUN_PARENT = re.compile(r"slack:run:(\d+):parent\Z")


def parse_number(text: str, what: str) -> int:
    """`42`, `#42`, `inc-42`, `run-42` -> 42; anything else is "no such thing"."""
    match = _NUMBER.match(text.strip())
    if match is None:
        raise NotFound(f"no {what} {text} (ids are numbers, e.g. `42`)")
    return int(match[1])


def message_ref(channel: str, ts: str) -> str:
    """How a posted message is kept in the notification log's `ref`."""
    return f"{channel} {ts}"


class StoreSlackCore:
    def __init__(
        self,
        *,
        store: Store,
        engine: Engine,
        settings: Settings,
        clock: Callable[[], datetime],
        grants: Grants,
        guard: Guard,
        usergroups: UserGroupCache | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.grants = grants
        self.guard = guard
        self.usergroups = usergroups
        self.environ = environ

    def policies(self) -> SlackPolicies:
        """Freezes, circuits and suggestions (`/conductor freeze|resume|runit`, "Run it")."""
        return SlackPolicies(self.store, self.engine)

    @property
    def views(self) -> ViewContext:
        jira = self.settings.jira
        return ViewContext(
            approvals=self.settings.approvals,
            registry=self.engine.deps.registry,
            jira_url=jira.url if jira is not None else None,
        )

    # --- who may ---------------------------------------------------------------------------
    def principal(self, actor: SlackActor) -> Principal:
        """The Slack user with their role; Slack user groups that grant something are looked up
        (cached briefly), a lookup that fails counts as not a member (fail closed)."""
        groups: frozenset[str] = frozenset()
        if self.usergroups is not None:
            groups = self.usergroups.groups_of(actor.user_id, self.grants.slack_groups_that_matter())
        return self.grants.slack_user(actor.user_id, groups)

    def authorize(self, request: AccessRequest, *, actor: SlackActor) -> None:
        self.guard.enforce(self.principal(actor), request, subject=f"slack:{actor.channel_id or 'unknown'}")

    # --- read -----------------------------------------------------------------------------
    def status(self) -> StatusView:
        with self.store.sessions() as session:
            open_incidents = session.scalar(
                select(func.count()).select_from(Incident).where(Incident.status != "resolved")
            )
            pending = session.scalar(
                select(func.count()).select_from(Approval).where(Approval.status == "pending")
            )
            in_flight = session.scalar(
                select(func.count()).select_from(RunbookRun).where(RunbookRun.status.in_(IN_FLIGHT))
            )
        health = tuple(
            IntegrationHealth(s.name, True if s.enabled else None, s.detail)
            for s in integration_status(self.settings, self.environ)
        )
        return StatusView(int(open_incidents or 0), int(pending or 0), int(in_flight or 0), health)

    def incidents(self, scope: IncidentScope) -> Sequence[IncidentView]:
        filt = incidents.IncidentFilter(scope=scope.value, limit=MAX_LISTED)
        with self.store.sessions() as session:
            rows = incidents.list_incidents(session, filt)
            return [incident_view(session, row, self.views, detailed=False) for row in rows]

    def incident(self, incident_id: str) -> IncidentView:
        number = parse_number(incident_id, "incident")
        with self.store.sessions() as session:
            return incident_view(session, incidents.get_incident(session, number), self.views)

    def runbooks(self) -> Sequence[RunbookSummary]:
        return [
            RunbookSummary(
                id=spec.id,
                title=spec.title,
                summary=spec.summary,
                risk=spec.risk,
                target_kind=spec.target_kind,
                approval=spec.approval.describe(),
            )
            for spec in self.engine.deps.registry.all()
        ]

    def silences(self) -> Sequence[SilenceView]:
        with self.store.sessions() as session:
            return [_silence_view(s) for s in silences.list_silences(session, now=self.clock())]

    def approval_for_message(self, channel: str, message_ts: str) -> ApprovalView | None:
        with self.store.sessions() as session:
            run = self._run_shown_in(session, channel, message_ts)
            return run_approval(session, run, self.views) if run is not None else None

    def _run_shown_in(self, session: Session, channel: str, message_ts: str) -> RunbookRun | None:
        """The run whose approval a parent message shows: the incident's latest run, or the run
        a run-only parent message was posted for."""
        incident = session.scalars(
            select(Incident).where(Incident.slack_channel == channel, Incident.slack_ts == message_ts)
        ).first()
        if incident is not None:
            return shown_run(session, incident.id)
        for key in session.scalars(
            select(Notification.key).where(
                Notification.channel == "slack", Notification.ref == message_ref(channel, message_ts)
            )
        ):
            match = _RUN_PARENT.match(key)
            if match is not None:
                return session.get(RunbookRun, int(match[1]))
        return None

    # --- change -----------------------------------------------------------------------------
    def acknowledge(self, incident_id: str, *, actor: SlackActor) -> IncidentView:
        number = parse_number(incident_id, "incident")
        with self.store.transaction() as session:
            row = incidents.acknowledge(session, number, actor=actor.audit_name, now=self.clock())
            return incident_view(session, row, self.views)

    def resolve(self, incident_id: str, *, actor: SlackActor) -> IncidentView:
        number = parse_number(incident_id, "incident")
        with self.store.transaction() as session:
            row = incidents.resolve(
                session, number, actor=actor.audit_name, now=self.clock(), reason="resolved from Slack"
            )
            return incident_view(session, row, self.views)

    def request_run(
        self,
        runbook_id: str,
        target: Target,
        params: Mapping[str, str],
        *,
        dry_run: bool,
        actor: SlackActor,
    ) -> RunRequestView:
        """A dry run plans only (and is audited as a request); a real request goes through the
        same gate as automatic runs: budget, target lock, approval policy."""
        if dry_run:
            plan = self.engine.preview(runbook_id, target.raw, dict(params), requested_by=actor.audit_name)
            with self.store.transaction() as session:
                audit(
                    session,
                    at=self.clock(),
                    actor=actor.audit_name,
                    subject=f"runbook:{runbook_id}",
                    action="run.previewed",
                    details={"target": target.raw, "params": dict(params), "plan": plan.summary},
                )
            return RunRequestView(
                None, runbook_id, target.raw, RunRequestState.DRY_RUN, plan=plan, params=params
            )
        outcome = self.engine.request(
            RunRequest(runbook_id, target.raw, dict(params), requested_by=actor.audit_name, manual=True)
        )
        run_id = str(outcome.run_id) if outcome.run_id is not None else None
        state, reason = _request_state(outcome.status, outcome.reason)
        approval = None
        if outcome.run_id is not None and state is RunRequestState.AWAITING_APPROVAL:
            with self.store.sessions() as session:
                run = session.get(RunbookRun, outcome.run_id)
                approval = run_approval(session, run, self.views) if run is not None else None
        return RunRequestView(
            run_id,
            runbook_id,
            target.raw,
            state,
            plan=outcome.plan,
            reason=reason,
            approval=approval,
            params=params,
        )

    def decide(
        self, run_id: str, action: ApprovalAction, *, actor: SlackActor, reason: str = ""
    ) -> ApprovalView:
        """Vote through the engine, which checks `[approvals]`, quorum, expiry and prior votes,
        and audits refusals."""
        number = parse_number(run_id, "run")
        approval_id = self.engine.approval_id_for_run(number)
        self.engine.decide(
            approval_id, principal=self.principal(actor), vote=Vote(action.value), reason=reason
        )
        with self.store.sessions() as session:
            run = session.get(RunbookRun, number)
            approval = approval_of(session, number)
            if run is None or approval is None:  # deleted underneath us: nothing sensible to show
                raise NotFound(f"run {number} has no approval")
            return approval_view(session, approval, run, self.views)

    def add_silence(
        self, matchers: Sequence[Matcher], duration: timedelta, comment: str, *, actor: SlackActor
    ) -> SilenceView:
        now = self.clock()
        with self.store.transaction() as session:
            row = silences.add_silence(
                session,
                matchers=list(matchers),
                starts_at=now,
                ends_at=now + duration,
                created_by=actor.audit_name,
                comment=comment,
                origin="slack",
                now=now,
            )
            return _silence_view(row)

    def expire_silence(self, silence_id: str, *, actor: SlackActor) -> SilenceView:
        number = parse_number(silence_id, "silence")
        with self.store.transaction() as session:
            row = silences.expire_silence(session, number, actor=actor.audit_name, now=self.clock())
            return _silence_view(row)

    def audit_refusal(self, *, actor: SlackActor, action: str, reason: str) -> None:
        with self.store.transaction() as session:
            audit(
                session,
                at=self.clock(),
                actor=actor.audit_name,
                subject=f"slack:{actor.channel_id or 'unknown'}",
                action="slack.refused",
                details={"attempt": action, "reason": reason},
            )


def _request_state(status: str | None, reason: str) -> tuple[RunRequestState, str]:
    if status == RunStatus.AWAITING_APPROVAL.value:
        return RunRequestState.AWAITING_APPROVAL, reason
    if status in (RunStatus.APPROVED.value, RunStatus.RUNNING.value):
        return RunRequestState.STARTED, reason
    if status == RunStatus.SUCCEEDED.value:  # the plan found nothing to change
        return RunRequestState.STARTED, f"nothing to change ({reason})" if reason else "nothing to change"
    return RunRequestState.REFUSED, reason or (status or "no run")


def _silence_view(row: SilenceRow) -> SilenceView:
    return SilenceView(
        id=str(row.id),
        matchers=tuple(Matcher.from_json(m) for m in row.matchers),
        starts_at=row.starts_at,
        ends_at=row.expired_at or row.ends_at,
        created_by=row.created_by,
        comment=row.comment,
    )
