"""apply_policies: how suggest/approve modes, freezes, circuits and caps change the gate's decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.engine.gate import Decision, GateDecision, GateReason
from bot.engine.policy_gate import PolicyView, apply_policies
from bot.policies.circuits import OpenCircuit
from bot.policies.freezes import ActiveFreeze

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
AUTO = GateDecision(
    Decision.AUTO_RUN, GateReason.POLICY_LETS_RUN, "risk low: the policy lets it run without approval"
)
ASK = GateDecision(
    Decision.NEEDS_APPROVAL, GateReason.RUNBOOK_ALWAYS_ASKS, "the runbook always asks for approval"
)
NONE = GateDecision(
    Decision.NO_ACTION, GateReason.FLAPPING, "flapping: the alert changes state too often to act on"
)
FREEZE = ActiveFreeze(3, "release freeze", (), block=False, maintenance=False, until=NOW)
BLOCK = ActiveFreeze(4, "peak sale", (), block=True, maintenance=False, until=NOW)
CIRCUIT = OpenCircuit(9, "runbook:test.bump", "3 failed or ineffective runs within 60 min", NOW, None)
CAP = "cap: 2 of 2 runs of test.bump in flight"


@pytest.mark.parametrize(
    ("base", "view", "decision", "reason_starts", "code"),
    [
        pytest.param(AUTO, PolicyView(), Decision.AUTO_RUN, "risk low", None, id="nothing-applies"),
        pytest.param(
            NONE,
            PolicyView(mode="suggest", freeze=BLOCK),
            Decision.NO_ACTION,
            "flapping",
            None,
            id="no-action-stands",
        ),
        pytest.param(
            AUTO,
            PolicyView(mode="suggest", rule="r"),
            Decision.SUGGEST,
            "suggest mode",
            GateReason.SUGGEST_ONLY,
            id="suggest",
        ),
        pytest.param(
            AUTO,
            PolicyView(mode="suggest", circuit=CIRCUIT),
            Decision.SUGGEST,
            "suggest mode",
            GateReason.SUGGEST_ONLY,
            id="suggest-never-acts-so-circuit-irrelevant",
        ),
        pytest.param(
            AUTO,
            PolicyView(circuit=CIRCUIT, freeze=FREEZE),
            Decision.NO_ACTION,
            "circuit open",
            GateReason.CIRCUIT_OPEN,
            id="circuit-open",
        ),
        pytest.param(
            AUTO,
            PolicyView(freeze=BLOCK),
            Decision.NO_ACTION,
            'change freeze "peak sale" (#4',
            GateReason.FREEZE_BLOCKS,
            id="freeze-blocks",
        ),
        pytest.param(
            AUTO,
            PolicyView(freeze=FREEZE),
            Decision.NEEDS_APPROVAL,
            'change freeze "release freeze" (#3',
            GateReason.FREEZE_NEEDS_APPROVAL,
            id="freeze-asks",
        ),
        pytest.param(
            ASK,
            PolicyView(freeze=FREEZE),
            Decision.NEEDS_APPROVAL,
            'change freeze "release freeze"',
            GateReason.FREEZE_NEEDS_APPROVAL,
            id="freeze-named-even-when-runbook-asks",
        ),
        pytest.param(
            AUTO,
            PolicyView(mode="approve", rule="r"),
            Decision.NEEDS_APPROVAL,
            'approve mode: rule "r"',
            GateReason.RULE_APPROVE_MODE,
            id="approve-mode",
        ),
        pytest.param(
            AUTO,
            PolicyView(cap=CAP, on_cap="approval"),
            Decision.NEEDS_APPROVAL,
            CAP,
            GateReason.CAP_NEEDS_APPROVAL,
            id="cap-asks",
        ),
        pytest.param(
            AUTO,
            PolicyView(cap=CAP, on_cap="queue"),
            Decision.AUTO_RUN,
            "risk low",
            None,
            id="cap-queues-later",
        ),
        pytest.param(
            AUTO,
            PolicyView(manual=True, freeze=BLOCK, circuit=CIRCUIT, mode="suggest"),
            Decision.AUTO_RUN,
            "risk low",
            None,
            id="a-person-decides",
        ),
        pytest.param(
            AUTO,
            PolicyView(manual=True, cap=CAP, on_cap="approval"),
            Decision.NEEDS_APPROVAL,
            CAP,
            GateReason.CAP_NEEDS_APPROVAL,
            id="caps-apply-to-people",
        ),
    ],
)
def test_apply_policies(
    base: GateDecision, view: PolicyView, decision: Decision, reason_starts: str, code: GateReason | None
) -> None:
    decided = apply_policies(base, view)
    assert decided.decision is decision
    assert decided.reason.startswith(reason_starts)
    assert decided.code is (code or base.code)
