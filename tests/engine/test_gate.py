"""The gate is a pure decision with a named reason; a table shows each case."""

from __future__ import annotations

import pytest

from bot.engine.gate import Anomaly, AnomalyStatus, Decision, GateInput, decide
from bot.runbook_kit.spec import ApprovalPolicy, Risk

HIGH = Anomaly(AnomalyStatus.OK, score=0.99, threshold=0.9, is_anomalous=True)
LOW = Anomaly(AnomalyStatus.OK, score=0.2, threshold=0.9)
NONE = Anomaly(AnomalyStatus.INSUFFICIENT_DATA)


@pytest.mark.parametrize(
    ("gate", "decision", "reason_part"),
    [
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), min_anomaly_score=0.9, anomaly=HIGH),
            Decision.AUTO_RUN,
            "anomaly score 0.99",
            id="low-risk-high-score-auto",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), min_anomaly_score=0.9, anomaly=LOW),
            Decision.NO_ACTION,
            "metric looks normal",
            id="normal-metric-no-action",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), min_anomaly_score=0.9, anomaly=NONE),
            Decision.NEEDS_APPROVAL,
            "could not be scored",
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
            "skips",
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
            "without approval",
            id="insufficient-data-act",
        ),
        pytest.param(
            GateInput(Risk.HIGH, ApprovalPolicy.when_risk_at_least(Risk.MEDIUM), anomaly=HIGH),
            Decision.NEEDS_APPROVAL,
            "risk high needs approval",
            id="risk-policy",
        ),
        pytest.param(
            GateInput(
                Risk.LOW, ApprovalPolicy.when_score_below(0.95), anomaly=Anomaly(AnomalyStatus.OK, score=0.92)
            ),
            Decision.NEEDS_APPROVAL,
            "0.92 < 0.95",
            id="borderline-score-asks",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.when_score_below(0.95), anomaly=HIGH),
            Decision.AUTO_RUN,
            "",
            id="clear-score-runs",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), rule_approval="always", anomaly=HIGH),
            Decision.NEEDS_APPROVAL,
            "rule always asks",
            id="rule-override-always",
        ),
        pytest.param(
            GateInput(Risk.HIGH, ApprovalPolicy.always(), rule_approval="never", anomaly=HIGH),
            Decision.AUTO_RUN,
            "",
            id="rule-override-never",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), anomaly=HIGH, flapping=True),
            Decision.NO_ACTION,
            "flapping",
            id="flapping-no-action",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), min_anomaly_score=0.9, anomaly=LOW, manual=True),
            Decision.AUTO_RUN,
            "",
            id="manual-run-ignores-metric",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), anomaly=Anomaly(AnomalyStatus.OK, 0.9989, 0.999)),
            Decision.NO_ACTION,
            "score 0.9989 < 0.999 ([detector] threshold)",
            id="no-rule-threshold-uses-the-detector-threshold",
        ),
        pytest.param(
            GateInput(Risk.LOW, ApprovalPolicy.never(), anomaly=Anomaly(AnomalyStatus.OK, 0.99995, 0.999)),
            Decision.AUTO_RUN,
            "anomaly score 0.99995: runs automatically",
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
            "",
            id="rule-threshold-overrides-the-detector-threshold",
        ),
        pytest.param(
            GateInput(
                Risk.LOW,
                ApprovalPolicy.never(),
                anomaly=Anomaly(AnomalyStatus.INSUFFICIENT_DATA, None, 0.999),
            ),
            Decision.AUTO_RUN,
            "",
            id="unscored-metric-without-a-rule-threshold-is-not-gated",
        ),
        pytest.param(
            GateInput(Risk.HIGH, ApprovalPolicy.always(), manual=True),
            Decision.NEEDS_APPROVAL,
            "always asks",
            id="manual-run-keeps-approval",
        ),
    ],
)
def test_gate(gate: GateInput, decision: Decision, reason_part: str) -> None:
    result = decide(gate)
    assert result.decision is decision
    assert reason_part in result.reason
