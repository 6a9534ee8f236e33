"""How the policies change the gate's decision. Pure: `apply_policies(base, view)`.

For automatic runs, in this order: a rule in suggest mode only suggests; an open circuit pauses;
a blocking freeze blocks; a freeze, a rule in approve mode, or a cap set to `on_exceed = "approval"`
asks a human. Runs a person requested (CLI, Slack, API, "Run it") are their own decision: only
the caps apply to them. A base decision of "no action" (flapping, below threshold) stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from bot.engine.gate import Decision, GateDecision
from bot.policies.caps import cap_problem
from bot.policies.circuits import OpenCircuit, circuit_for
from bot.policies.freezes import ActiveFreeze, active_freezes, freeze_for
from bot.policies.scope import run_scope
from bot.policies.settings import CapSettings


class PolicyReason(StrEnum):
    """Why a policy changed the decision (kept in `runbook_runs.policy["reason"]`)."""

    SUGGEST_ONLY = "suggest_only"
    RULE_APPROVE_MODE = "rule_approve_mode"
    FREEZE_APPROVAL = "change_freeze"
    FREEZE_BLOCKS = "change_freeze_blocks"
    CIRCUIT_OPEN = "circuit_open"
    CAP_APPROVAL = "cap_approval"
    CAP_QUEUED = "cap_queued"


@dataclass(frozen=True)
class PolicyView:
    mode: str = "auto"  # the rule's autonomy level: auto | approve | suggest
    manual: bool = False
    rule: str = ""
    freeze: ActiveFreeze | None = None
    circuit: OpenCircuit | None = None
    cap: str = ""  # the cap a run would exceed now ("" fits)
    on_cap: str = "queue"


@dataclass(frozen=True)
class PolicyDecision:
    gate: GateDecision
    reason: PolicyReason | None = None


def apply_policies(base: GateDecision, view: PolicyView) -> PolicyDecision:
    if base.decision is Decision.NO_ACTION:
        return PolicyDecision(base)
    cap_asks = bool(view.cap) and view.on_cap == "approval"
    if view.manual:
        if cap_asks:
            return _ask(f"{view.cap}; a human may let it exceed the cap", PolicyReason.CAP_APPROVAL)
        return PolicyDecision(base)
    if view.mode == "suggest":
        why = f'suggest mode: rule "{view.rule}" posts the plan for a responder and never acts'
        return PolicyDecision(GateDecision(Decision.SUGGEST, why), PolicyReason.SUGGEST_ONLY)
    if view.circuit is not None:
        return PolicyDecision(
            GateDecision(Decision.NO_ACTION, view.circuit.describe()), PolicyReason.CIRCUIT_OPEN
        )
    if view.freeze is not None and view.freeze.block:
        why = f"{view.freeze.describe()} blocks automatic runs"
        return PolicyDecision(GateDecision(Decision.NO_ACTION, why), PolicyReason.FREEZE_BLOCKS)
    if view.freeze is not None:
        return _ask(f"{view.freeze.describe()}: automatic runs need approval", PolicyReason.FREEZE_APPROVAL)
    if view.mode == "approve":
        return _ask(
            f'approve mode: rule "{view.rule}" asks a human before every run', PolicyReason.RULE_APPROVE_MODE
        )
    if cap_asks:
        return _ask(f"{view.cap}; a human may let it exceed the cap", PolicyReason.CAP_APPROVAL)
    return PolicyDecision(base)


def _ask(reason: str, code: PolicyReason) -> PolicyDecision:
    return PolicyDecision(GateDecision(Decision.NEEDS_APPROVAL, reason), code)


def read_policy_view(
    session: Session,
    *,
    caps: CapSettings,
    runbook: str,
    target: str,
    service: str,
    mode: str,
    manual: bool,
    rule: str,
    now: datetime,
) -> PolicyView:
    """What the stored policies say about a run about to be requested (freezes and circuits from
    the database, so every replica agrees)."""
    scope = run_scope(runbook=runbook, target=target, service=service)
    cap = ""
    if caps.on_exceed == "approval":
        cap = cap_problem(session, caps, runbook=runbook, target=target, service=service, now=now)
    return PolicyView(
        mode=mode,
        manual=manual,
        rule=rule,
        freeze=None if manual else freeze_for(active_freezes(session, now), scope),
        circuit=None if manual else circuit_for(session, runbook=runbook, service=service, now=now),
        cap=cap,
        on_cap=caps.on_exceed,
    )
