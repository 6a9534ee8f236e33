"""What the Slack renderers draw: small frozen views the core fills in from its own models.

Renderers are pure functions of these views (see `blocks.py` and `thread.py`), so the store,
the incident model and the run engine can change without touching Block Kit, and every message
can be tested without Slack. Users are Slack user ids (`U0ALICE`, shown as mentions) or plain
names (`cli:alice`, `system`), shown as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.runbook_kit.spec import Outcome, Plan, Risk, RunResult, VerifyStatus


@dataclass(frozen=True, slots=True)
class AnomalyView:
    """The detector's verdict on the metric behind the incident."""

    score: float | None  # in [0, 1]; None when no detector ran (e.g. no metric)
    threshold: float | None = None
    explanation: str = ""  # e.g. "CPUUtilization 97% vs 41% typical (4.2 sigma) for 15 min"


@dataclass(frozen=True, slots=True)
class ProposalView:
    """The runbook the rules picked, with its plan (what it would do)."""

    runbook_id: str
    runbook_title: str
    target: str
    risk: Risk
    plan: Plan
    params: Mapping[str, Any] = field(default_factory=dict)


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # the incident resolved before anyone decided


@dataclass(frozen=True, slots=True)
class Vote:
    user: str
    at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ApprovalView:
    """An approval request and where it stands.

    `approvals` are the approve votes so far (quorum progress); `denial` is set when denied.
    `approver_users` / `approver_groups` (Slack user and user-group ids) say who may decide, and
    `approver_role` when the `[approvals]` entry also lets anyone with that role decide.
    """

    approval_id: str
    run_id: str
    state: ApprovalState
    expires_at: datetime
    quorum: int = 1
    approvals: tuple[Vote, ...] = ()
    denial: Vote | None = None
    approver_users: tuple[str, ...] = ()
    approver_groups: tuple[str, ...] = ()
    requested_by: str = "system"
    approver_role: str = ""

    @property
    def progress(self) -> str:
        return f"{len(self.approvals)}/{self.quorum}"


@dataclass(frozen=True, slots=True)
class IncidentLinks:
    jira_key: str | None = None
    jira_url: str | None = None
    pagerduty_id: str | None = None
    pagerduty_url: str | None = None
    other: tuple[tuple[str, str], ...] = ()  # (label, url): dashboards, runbook docs, the alert source


@dataclass(frozen=True, slots=True)
class AlertCounts:
    firing: int = 1
    resolved: int = 0
    repeats: int = 0  # deliveries of an already-firing alert (shown as "fired again (xN)")


@dataclass(frozen=True, slots=True)
class IncidentView:
    """The incident's parent message."""

    id: str
    title: str
    severity: str  # critical | error | warning | info | unknown
    status: str  # open | acknowledged | resolved (others are shown as given)
    resource: str  # e.g. "aws ecs service prod/api (eu-west-1)"
    source: str  # alertmanager, cloudwatch, ...
    opened_at: datetime
    counts: AlertCounts = field(default_factory=AlertCounts)
    summary: str = ""
    anomaly: AnomalyView | None = None
    proposal: ProposalView | None = None
    approval: ApprovalView | None = None
    # Why the bot did (or did not) act, e.g. "auto-run: low risk and score 0.97 >= 0.9"
    # or "no action: metric looks normal (score 0.12)".
    decision: str = ""
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    links: IncidentLinks = field(default_factory=IncidentLinks)


@dataclass(frozen=True, slots=True)
class RepeatView:
    """An alert of the incident fired again. Post once, then update that message as the count grows."""

    incident_id: str
    alert_name: str
    count: int  # times it fired again so far
    last_at: datetime
    first_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunView:
    """A runbook run: started (result None) or finished."""

    run_id: str
    runbook_id: str
    target: str
    requested_by: str
    started_at: datetime
    approved_by: tuple[str, ...] = ()
    dry_run: bool = False
    plan: Plan | None = None
    result: RunResult | None = None
    finished_at: datetime | None = None
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class VerificationView:
    run_id: str
    runbook_id: str
    target: str
    status: VerifyStatus
    at: datetime
    detail: str = ""


@dataclass(frozen=True, slots=True)
class EscalationView:
    incident_id: str
    to: str  # e.g. "PagerDuty: payments-primary"
    reason: str  # e.g. "verification failed after restart"
    at: datetime
    link: str | None = None


@dataclass(frozen=True, slots=True)
class FiredAlert:
    name: str
    severity: str
    count: int = 1  # deliveries, repeats included


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    runbook_id: str
    target: str
    outcome: Outcome | None  # None: did not finish (denied, expired, still running)
    approved_by: tuple[str, ...] = ()
    dry_run: bool = False
    note: str = ""  # e.g. "denied by U0BOB: not during the release"


@dataclass(frozen=True, slots=True)
class ResolutionView:
    """The summary posted into the thread when the incident is resolved."""

    incident_id: str
    title: str
    opened_at: datetime
    resolved_at: datetime
    resolved_by: str  # a user, or e.g. "system" when every alert resolved
    fired: tuple[FiredAlert, ...] = ()
    runs: tuple[RunSummary, ...] = ()
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolution_note: str = ""
