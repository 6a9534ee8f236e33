"""How the safety policies change the gate's decision. Pure: `apply_policies(base, view)`.

For automatic runs, in this order: a rule in suggest mode only suggests; an open circuit pauses;
a blocking freeze blocks; a freeze, a rule in approve mode, or a cap set to `on_exceed = "approval"`
asks a human. Runs a person requested (CLI, Slack, API, "Run it") are their own decision: only
the caps apply to them. A base decision of "no action" (flapping, below threshold) stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.config.policies import CapSettings
from bot.config.root import Settings
from bot.engine.gate import Decision, GateDecision, GateReason
from bot.policies.caps import cap_problem
from bot.policies.circuits import OpenCircuit, circuit_for
from bot.policies.freezes import ActiveFreeze, active_freezes, freeze_for
from bot.policies.scope import run_scope


@dataclass(frozen=True)
class PolicyView:
    mode: str = "auto"  # the rule's autonomy level: auto | approve | suggest
    manual: bool = False
    rule: str = ""
    freeze: ActiveFreeze | None = None
    circuit: OpenCircuit | None = None
    cap: str = ""  # the cap a run would exceed now ("" fits)
    on_cap: str = "queue"


def apply_policies(base: GateDecision, view: PolicyView) -> GateDecision:
    if base.decision is Decision.NO_ACTION:
        return base
    cap_asks = bool(view.cap) and view.on_cap == "approval"
    if view.manual:
        return (
            _because(Decision.NEEDS_APPROVAL, GateReason.CAP_NEEDS_APPROVAL, cap=view.cap)
            if cap_asks
            else base
        )
    if view.mode == "suggest":
        return _because(Decision.SUGGEST, GateReason.SUGGEST_ONLY, rule=view.rule)
    if view.circuit is not None:
        return _because(Decision.NO_ACTION, GateReason.CIRCUIT_OPEN, circuit=view.circuit.describe())
    if view.freeze is not None and view.freeze.block:
        return _because(Decision.NO_ACTION, GateReason.FREEZE_BLOCKS, freeze=view.freeze.describe())
    if view.freeze is not None:
        return _because(
            Decision.NEEDS_APPROVAL, GateReason.FREEZE_NEEDS_APPROVAL, freeze=view.freeze.describe()
        )
    if view.mode == "approve":
        return _because(Decision.NEEDS_APPROVAL, GateReason.RULE_APPROVE_MODE, rule=view.rule)
    if cap_asks:
        return _because(Decision.NEEDS_APPROVAL, GateReason.CAP_NEEDS_APPROVAL, cap=view.cap)
    return base


def _because(decision: Decision, code: GateReason, **facts: object) -> GateDecision:
    return GateDecision(decision, code, code.say(**facts))


POLICY_CODES = frozenset(
    {
        GateReason.SUGGEST_ONLY,
        GateReason.CIRCUIT_OPEN,
        GateReason.FREEZE_BLOCKS,
        GateReason.FREEZE_NEEDS_APPROVAL,
        GateReason.RULE_APPROVE_MODE,
        GateReason.CAP_NEEDS_APPROVAL,
    }
)


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


def gate_with_policies(
    session: Session,
    settings: Settings,
    base: GateDecision,
    *,
    runbook: str,
    target: str,
    service: str,
    mode: str,
    manual: bool,
    rule: str,
    notes: dict[str, Any],
    now: datetime,
) -> tuple[GateDecision, dict[str, Any]]:
    """The gate's decision once the policies have had their say, and the notes kept on the run
    (`runbook_runs.policy`): `notes`, the policy code that decided, and the freeze that applied."""
    view = read_policy_view(
        session,
        caps=settings.caps,
        runbook=runbook,
        target=target,
        service=service,
        mode=mode,
        manual=manual,
        rule=rule,
        now=now,
    )
    gate = apply_policies(base, view)
    notes = dict(notes)
    if gate.code in POLICY_CODES:
        notes["reason"] = gate.code.value
    if view.freeze is not None:
        notes["freeze"] = view.freeze.id
    return gate, notes
