"""The gate is a pure decision with a named reason; a table shows each case."""

from __future__ import annotations

import pytest

from bot.engine.gate import Anomaly, AnomalyStatus, Decision, GateInput, GateReason, decide
from bot.runbook_kit.spec import ApprovalPolicy, Risk

HIGH = Anomaly(AnomalyStatus.OK, score=0.99, threshold=0.9, is_anomalous=True)
LOW = Anomaly(AnomalyStatus.OK, score=0.2, threshold=0.9)
NONE = Anomaly(AnomalyStatus.INSUFFICIENT_DATA)


@pytest.mark.parametrize(
    ("gate", "decision", "code"),
    [
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), min_anomaly_score=0.9, anomaly=HIGH),
            Decision.AUTO_RUN,
            GateReason.ANOMALOUS_RUNS,
            id="low-risk-high-score-auto",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), min_anomaly_score=0.9, anomaly=LOW),
            Decision.NO_ACTION,
            GateReason.BELOW_ANOMALY_THRESHOLD,
            id="normal-metric-no-action",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), min_anomaly_score=0.9, anomaly=NONE),
            Decision.NEEDS_APPROVAL,
            GateReason.UNSCORED_NEEDS_APPROVAL,
            id="insufficient-data-asks",
        ),
        pytest.param(
            GateInput(
                Risk.LOW,
                ApprovalPolicy.never(),
                min_anomaly_score=0.9,
                anomaly=NONE,
                on_insufficient_data="skip",
            ),
            Decision.NO_ACTION,
            GateReason.UNSCORED_RULE_SKIPS,
            id="insufficient-data-skip",
        ),
        pytest.param(
            GateInput(
                Risk.LOW,
                ApprovalPolicy.never(),
                min_anomaly_score=0.9,
                anomaly=NONE,
                on_insufficient_data="act",
            ),
            Decision.AUTO_RUN,
            GateReason.POLICY_LETS_RUN,
            id="insufficient-data-act",
        ),
        pytest.param(
            GateInput(Risk.HIGH, ApprovalPolicy.when_risk_at_least(Risk.MEDIUM), anomaly=HIGH),
            Decision.NEEDS_APPROVAL,
            GateReason.RISK_NEEDS_APPROVAL,
            id="risk-policy",
        ),
        pytest.param(
            GateInput(
                Risk.LOW, ApprovalPolicy.when_score_below(0.95), anomaly=Anomaly(AnomalyStatus.OK, score=0.92)
            ),
            Decision.NEEDS_APPROVAL,
            GateReason.SCORE_BELOW_POLICY_NEEDS_APPROVAL,
            id="borderline-score-asks",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.when_score_below(0.95), anomaly=HIGH),
            Decision.AUTO_RUN,
            GateReason.ANOMALOUS_RUNS,
            id="clear-score-runs",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), rule_approval="always", anomaly=HIGH),
            Decision.NEEDS_APPROVAL,
            GateReason.RULE_ALWAYS_ASKS,
            id="rule-override-always",
        ),
        pytest.param(
            GateInput(Risk.HIGH, ApprovalPolicy.always(), rule_approval="never", anomaly=HIGH),
            Decision.AUTO_RUN,
            GateReason.ANOMALOUS_RUNS,
            id="rule-override-never",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), anomaly=HIGH, flapping=True),
            Decision.NO_ACTION,
            GateReason.FLAPPING,
            id="flapping-no-action",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), min_anomaly_score=0.9, anomaly=LOW, manual=True),
            Decision.AUTO_RUN,
            GateReason.POLICY_LETS_RUN,
            id="manual-run-ignores-metric",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), anomaly=Anomaly(AnomalyStatus.OK, 0.9989, 0.999)),
            Decision.NO_ACTION,
            GateReason.BELOW_ANOMALY_THRESHOLD,
            id="no-rule-threshold-uses-the-detector-threshold",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), anomaly=Anomaly(AnomalyStatus.OK, 0.99995, 0.999)),
            Decision.AUTO_RUN,
            GateReason.ANOMALOUS_RUNS,
            id="no-rule-threshold-above-the-detector-threshold-runs",
        ),
        pytest.param(
            GateInput(
                Risk.LOW,
                ApprovalPolicy.never(),
                min_anomaly_score=0.5,
                anomaly=Anomaly(AnomalyStatus.OK, 0.9, 0.999),
            ),
            Decision.AUTO_RUN,
            GateReason.ANOMALOUS_RUNS,
            id="rule-threshold-overrides-the-detector-threshold",
        ),
        pytest.param(
            GateInput(
                Risk.LOW,
                ApprovalPolicy.never(),
                anomaly=Anomaly(AnomalyStatus.INSUFFICIENT_DATA, None, 0.999),
            ),
            Decision.AUTO_RUN,
            GateReason.POLICY_LETS_RUN,
            id="unscored-metric-without-a-rule-threshold-is-not-gated",
        ),
        pytest.param(
            GateInput(Risk.HIGH, ApprovalPolicy.always(), manual=True),
            Decision.NEEDS_APPROVAL,
            GateReason.RUNBOOK_ALWAYS_ASKS,
            id="manual-run-keeps-approval",
        ),
    ],
)
def test_gate(gate: GateInput, decision: Decision, code: GateReason) -> None:
    result = decide(gate)
    assert (result.decision, result.code) == (decision, code)


@pytest.mark.parametrize(
    ("gate", "sentence"),
    [
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), anomaly=Anomaly(AnomalyStatus.OK, 0.9989, 0.999)),
            "below anomaly threshold: score 0.9989 < 0.999 ([detector] threshold) (the metric looks normal)",
            id="below-the-detector-threshold",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), min_anomaly_score=0.9, anomaly=LOW),
            "below anomaly threshold: score 0.2 < 0.9 (the metric looks normal)",
            id="below-the-rule-threshold",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), anomaly=Anomaly(AnomalyStatus.OK, 0.99995, 0.999)),
            "risk low and anomaly score 0.99995: runs automatically",
            id="anomalous-runs",
        ),
        pytest.param(
            GateInput(
                Risk.LOW, ApprovalPolicy.when_score_below(0.95), anomaly=Anomaly(AnomalyStatus.OK, score=0.92)
            ),
            "anomaly score 0.92 < 0.95 needs approval",
            id="score-below-policy",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), min_anomaly_score=0.9, anomaly=NONE),
            "insufficient data: the metric could not be scored",
            id="unscored",
        ),
    ],
)
def test_the_sentence_people_read_fills_in_the_facts(gate: GateInput, sentence: str) -> None:
    assert decide(gate).reason == sentence


def test_every_gate_reason_has_its_own_code_and_a_message() -> None:
    codes = [reason.value for reason in GateReason]
    assert len(set(codes)) == len(codes)
    assert all(reason.message and reason.message != reason.value for reason in GateReason)
