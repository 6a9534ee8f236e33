"""Rule and approval settings: which runbook an incident gets, and who may approve it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.config.settings import Matcher, Section

# What a rule does when the metric could not be scored (no metric, fetch failed):
# "act" (as if anomalous), "approval" (ask a human), "skip" (do nothing, say why).
OnInsufficientData = Literal["act", "approval", "skip"]
# A rule's override of the runbook's own approval policy.
RuleApproval = Literal["default", "never", "always"]
# Autonomy: "auto" runs as the gate decides; "approve" always asks a human; "suggest" posts the
# plan with a "Run it" button for a responder and never acts by itself.
RuleMode = Literal["suggest", "approve", "auto"]


class RuleSettings(Section):
    """When an incident's alert matches, propose `runbook` on `target` with `params`.

    `target` and string `params` are templates over alert fields: `{resource.id}`, `{resource.name}`,
    `{resource.region}`, `{name}`, `{labels[service]}`, `{metric.dimensions[ServiceName]}` ...
    """

    name: str
    match: list[Matcher] = Field(default_factory=list)
    min_anomaly_score: float | None = Field(default=None, ge=0, le=1)
    on_insufficient_data: OnInsufficientData = "approval"
    runbook: str
    target: str
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    approval: RuleApproval = "default"  # overrides the runbook's own approval policy
    mode: RuleMode = "auto"


class ApproverSettings(Section):
    """Who may approve, per runbook id or risk level: people named here (Slack user ids, `api:<token>`,
    `cli:<user>`, or names a trusted proxy uses), members of the groups named here, and — when `role`
    is set — anyone holding that role. Everyone named here holds at least the approver role."""

    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    role: Literal["approver", "admin"] | None = None
    quorum: int = Field(default=1, ge=1)


class ApprovalSettings(Section):
    expiry_minutes: float = Field(default=30.0, gt=0)
    # Keys: a runbook id, or "risk:low" / "risk:medium" / "risk:high". The most specific wins.
    # A run no entry applies to cannot be approved: its approval request is refused (fail closed).
    approvers: dict[str, ApproverSettings] = Field(default_factory=dict)
    # Named groups (group name -> members, spelled as in `users`), for approver rules and roles.
    groups: dict[str, list[str]] = Field(default_factory=dict)
    # Escalate an expired approval to this PagerDuty service name (see [pagerduty.routing_keys]).
    escalate_to: str = ""
