"""The gate: auto-run, ask a human, or do nothing — and the named reason why."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from bot.runbooks.spec import ApprovalMode, ApprovalPolicy, Risk


class Decision(StrEnum):
    AUTO_RUN = "auto_run"
    NEEDS_APPROVAL = "needs_approval"
    NO_ACTION = "no_action"
    SUGGEST = "suggest"  # the rule only suggests: the plan is posted with a "Run it" button


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
    rule_approval: str = "default"  # default | never | always
    min_anomaly_score: float | None = None
    on_insufficient_data: str = "approval"  # act | approval | skip
    anomaly: Anomaly = Anomaly(AnomalyStatus.NOT_SCORED)
    flapping: bool = False
    manual: bool = False  # requested by a person (CLI, Slack): the metric gate does not apply


@dataclass(frozen=True, slots=True)
class GateDecision:
    decision: Decision
    reason: str


def _policy_requires_approval(gate: GateInput) -> str | None:
    if gate.rule_approval == "always":
        return "the rule always asks for approval"
    if gate.rule_approval == "never":
        return None
    policy = gate.policy
    if policy.mode is ApprovalMode.ALWAYS:
        return "the runbook always asks for approval"
    if (
        policy.mode is ApprovalMode.RISK_AT_LEAST
        and policy.risk is not None
        and gate.risk.rank >= policy.risk.rank
    ):
        return f"risk {gate.risk.value} needs approval (policy: {policy.describe()})"
    if policy.mode is ApprovalMode.SCORE_BELOW and policy.score is not None:
        score = gate.anomaly.score
        if score is None:
            return "anomaly score unknown; the policy asks for approval below a score"
        if score < policy.score:
            return f"anomaly score {format_score(score)} < {policy.score:g} needs approval"
    return None


def decide(gate: GateInput) -> GateDecision:
    """Pure: the same inputs always give the same decision and reason."""
    if gate.flapping and not gate.manual:
        return GateDecision(Decision.NO_ACTION, "flapping: the alert changes state too often to act on")
    anomaly = gate.anomaly
    if not gate.manual:
        if anomaly.status is AnomalyStatus.OK:
            # A rule without its own min_anomaly_score uses the detector's threshold.
            floor = gate.min_anomaly_score if gate.min_anomaly_score is not None else anomaly.threshold
            score = anomaly.score or 0.0
            if floor is not None and score < floor:
                source = "" if gate.min_anomaly_score is not None else " ([detector] threshold)"
                return GateDecision(
                    Decision.NO_ACTION,
                    f"below anomaly threshold: score {format_score(score)} < {floor:g}{source}"
                    " (the metric looks normal)",
                )
        elif gate.min_anomaly_score is not None:
            what = anomaly.status.value.replace("_", " ")
            if gate.on_insufficient_data == "skip":
                return GateDecision(
                    Decision.NO_ACTION, f"{what}: the metric could not be scored and the rule skips"
                )
            if gate.on_insufficient_data == "approval":
                return GateDecision(Decision.NEEDS_APPROVAL, f"{what}: the metric could not be scored")
    needs = _policy_requires_approval(gate)
    if needs:
        return GateDecision(Decision.NEEDS_APPROVAL, needs)
    if anomaly.status is AnomalyStatus.OK and anomaly.score is not None and not gate.manual:
        return GateDecision(
            Decision.AUTO_RUN,
            f"risk {gate.risk.value} and anomaly score {format_score(anomaly.score)}: runs automatically",
        )
    return GateDecision(Decision.AUTO_RUN, f"risk {gate.risk.value}: the policy lets it run without approval")
