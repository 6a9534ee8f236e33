"""The gate: auto-run, ask a human, or do nothing — and the named reason why."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from bot.config.rules import OnInsufficientData, RuleApproval
from bot.reasons import ReasonCode
from bot.runbook_kit.spec import ApprovalMode, ApprovalPolicy, Risk


class Decision(StrEnum):
    AUTO_RUN = "auto_run"
    NEEDS_APPROVAL = "needs_approval"
    NO_ACTION = "no_action"
    SUGGEST = "suggest"  # the rule only suggests: the plan is posted with a "Run it" button


class GateReason(ReasonCode):
    """Why the gate decided what it did; `say(...)` gives the sentence shown to people."""

    FLAPPING = "flapping", "flapping: the alert changes state too often to act on"
    BELOW_ANOMALY_THRESHOLD = (
        "below_anomaly_threshold",
        "below anomaly threshold: score {score} < {floor:g}{source} (the metric looks normal)",
    )
    UNSCORED_RULE_SKIPS = "unscored_rule_skips", "{what}: the metric could not be scored and the rule skips"
    UNSCORED_NEEDS_APPROVAL = "unscored_needs_approval", "{what}: the metric could not be scored"
    RULE_ALWAYS_ASKS = "rule_always_asks", "the rule always asks for approval"
    RUNBOOK_ALWAYS_ASKS = "runbook_always_asks", "the runbook always asks for approval"
    RISK_NEEDS_APPROVAL = "risk_needs_approval", "risk {risk} needs approval (policy: {policy})"
    SCORE_UNKNOWN_NEEDS_APPROVAL = (
        "score_unknown_needs_approval",
        "anomaly score unknown; the policy asks for approval below a score",
    )
    SCORE_BELOW_POLICY_NEEDS_APPROVAL = (
        "score_below_policy_needs_approval",
        "anomaly score {score} < {policy_score:g} needs approval",
    )
    ANOMALOUS_RUNS = "anomalous_runs", "risk {risk} and anomaly score {score}: runs automatically"
    POLICY_LETS_RUN = "policy_lets_run", "risk {risk}: the policy lets it run without approval"
    # The safety policies (bot.engine.policy_gate, docs/policies.md)
    SUGGEST_ONLY = (
        "suggest_only",
        'suggest mode: rule "{rule}" posts the plan for a responder and never acts',
    )
    CIRCUIT_OPEN = "circuit_open", "{circuit}"  # the circuit's own sentence: "circuit open: ..."
    FREEZE_BLOCKS = "change_freeze_blocks", "{freeze} blocks automatic runs"
    FREEZE_NEEDS_APPROVAL = "change_freeze", "{freeze}: automatic runs need approval"
    RULE_APPROVE_MODE = "rule_approve_mode", 'approve mode: rule "{rule}" asks a human before every run'
    CAP_NEEDS_APPROVAL = "cap_needs_approval", "{cap}; a human may let it exceed the cap"


class AnomalyStatus(StrEnum):
    OK = "ok"
    INSUFFICIENT_DATA = "insufficient_data"
    ERROR = "error"
    NOT_SCORED = "not_scored"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """The detector's verdict on the alert's metric: `score` is the alert score (the highest point
    score in the alert window) and `threshold` the `[detector] threshold` it was judged against."""

    status: AnomalyStatus
    score: float | None = None
    threshold: float | None = None
    is_anomalous: bool = False


def format_score(score: float) -> str:
    """A score with enough digits to tell 0.9991 from 0.99999 (two significant digits of 1 - score)."""
    if score >= 1.0:
        return "1"
    digits = max(2, math.ceil(-math.log10(1.0 - score)) + 1)
    return f"{score:.{min(digits, 15)}f}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class GateInput:
    risk: Risk
    policy: ApprovalPolicy
    rule_approval: RuleApproval = "default"
    min_anomaly_score: float | None = None
    on_insufficient_data: OnInsufficientData = "approval"
    anomaly: Anomaly = Anomaly(AnomalyStatus.NOT_SCORED)
    flapping: bool = False
    manual: bool = False  # requested by a person (CLI, Slack): the metric gate does not apply


@dataclass(frozen=True, slots=True)
class GateDecision:
    decision: Decision
    code: GateReason
    reason: str  # the code's sentence, filled in


def _because(decision: Decision, code: GateReason, **facts: object) -> GateDecision:
    return GateDecision(decision, code, code.say(**facts))


def _policy_requires_approval(gate: GateInput) -> GateDecision | None:
    asks = Decision.NEEDS_APPROVAL
    if gate.rule_approval == "always":
        return _because(asks, GateReason.RULE_ALWAYS_ASKS)
    if gate.rule_approval == "never":
        return None
    policy = gate.policy
    if policy.mode is ApprovalMode.ALWAYS:
        return _because(asks, GateReason.RUNBOOK_ALWAYS_ASKS)
    if (
        policy.mode is ApprovalMode.RISK_AT_LEAST
        and policy.risk is not None
        and gate.risk.rank >= policy.risk.rank
    ):
        return _because(asks, GateReason.RISK_NEEDS_APPROVAL, risk=gate.risk.value, policy=policy.describe())
    if policy.mode is ApprovalMode.SCORE_BELOW and policy.score is not None:
        score = gate.anomaly.score
        if score is None:
            return _because(asks, GateReason.SCORE_UNKNOWN_NEEDS_APPROVAL)
        if score < policy.score:
            return _because(
                asks,
                GateReason.SCORE_BELOW_POLICY_NEEDS_APPROVAL,
                score=format_score(score),
                policy_score=policy.score,
            )
    return None


def decide(gate: GateInput) -> GateDecision:
    """Pure: the same inputs always give the same decision and reason."""
    if gate.flapping and not gate.manual:
        return _because(Decision.NO_ACTION, GateReason.FLAPPING)
    anomaly = gate.anomaly
    if not gate.manual:
        if anomaly.status is AnomalyStatus.OK:
            # A rule without its own min_anomaly_score uses the detector's threshold.
            floor = gate.min_anomaly_score if gate.min_anomaly_score is not None else anomaly.threshold
            score = anomaly.score or 0.0
            if floor is not None and score < floor:
                source = "" if gate.min_anomaly_score is not None else " ([detector] threshold)"
                return _because(
                    Decision.NO_ACTION,
                    GateReason.BELOW_ANOMALY_THRESHOLD,
                    score=format_score(score),
                    floor=floor,
                    source=source,
                )
        elif gate.min_anomaly_score is not None:
            what = anomaly.status.value.replace("_", " ")
            if gate.on_insufficient_data == "skip":
                return _because(Decision.NO_ACTION, GateReason.UNSCORED_RULE_SKIPS, what=what)
            if gate.on_insufficient_data == "approval":
                return _because(Decision.NEEDS_APPROVAL, GateReason.UNSCORED_NEEDS_APPROVAL, what=what)
    needs = _policy_requires_approval(gate)
    if needs is not None:
        return needs
    if anomaly.status is AnomalyStatus.OK and anomaly.score is not None and not gate.manual:
        return _because(
            Decision.AUTO_RUN,
            GateReason.ANOMALOUS_RUNS,
            risk=gate.risk.value,
            score=format_score(anomaly.score),
        )
    return _because(Decision.AUTO_RUN, GateReason.POLICY_LETS_RUN, risk=gate.risk.value)
