"""The scaling arithmetic shared by the ECS and Auto Scaling runbooks (pure, no AWS)."""

from __future__ import annotations

import pytest

from bot.runbook_kit.spec import ReconcileDecision
from runbooks.aws_ecs_scale_service import EcsScaleParams
from runbooks.aws_scaling import decide_scale, reconcile_scale


@pytest.mark.parametrize(
    ("params", "current", "guards", "target", "verdict", "clamped"),
    [
        pytest.param(EcsScaleParams(desired_count=4), 2, (1, 10), 4, "act", False, id="absolute"),
        pytest.param(
            EcsScaleParams(desired_count=11), 2, (1, 10), 2, "beyond_guard", False, id="absolute-above"
        ),
        pytest.param(
            EcsScaleParams(desired_count=0), 2, (1, 10), 2, "beyond_guard", False, id="absolute-below"
        ),
        pytest.param(
            EcsScaleParams(desired_count=2), 2, (1, 10), 2, "already_at_target", False, id="absolute-same"
        ),
        pytest.param(EcsScaleParams(step=2), 3, (1, 10), 5, "act", False, id="step"),
        pytest.param(EcsScaleParams(step=9), 3, (1, 10), 10, "act", True, id="step-clamped"),
        pytest.param(EcsScaleParams(step=-9), 3, (1, 10), 1, "act", True, id="step-in-clamped"),
        pytest.param(EcsScaleParams(factor=1.5), 3, (1, 10), 5, "act", False, id="factor-up-rounds-up"),
        pytest.param(EcsScaleParams(factor=0.5), 3, (1, 10), 1, "act", False, id="factor-down-rounds-down"),
        pytest.param(
            EcsScaleParams(factor=1.5), 0, (0, 10), 0, "already_at_target", False, id="factor-of-zero"
        ),
        pytest.param(EcsScaleParams(step=1), 10, (1, 10), 10, "at_limit", True, id="at-max"),
        pytest.param(EcsScaleParams(step=1), 12, (1, 10), 12, "at_limit", True, id="above-max-no-scale-in"),
        pytest.param(EcsScaleParams(step=-1), 0, (1, 10), 0, "at_limit", True, id="below-min-no-scale-out"),
        pytest.param(EcsScaleParams(step=1), 3, (5, 4), 3, "invalid_guards", False, id="empty-guards"),
    ],
)
def test_decide_scale(
    params: EcsScaleParams, current: int, guards: tuple[int, int], target: int, verdict: str, clamped: bool
) -> None:
    decision = decide_scale(params, current=current, lo=guards[0], hi=guards[1], unit="n")

    assert (decision.target, decision.verdict, decision.clamped) == (target, verdict, clamped)
    assert decision.acts is (verdict == "act")


@pytest.mark.parametrize(
    ("params", "current", "expected"),
    [
        pytest.param(
            EcsScaleParams(desired_count=4), 4, ReconcileDecision.ALREADY_APPLIED, id="absolute-done"
        ),
        pytest.param(
            EcsScaleParams(desired_count=4), 2, ReconcileDecision.NOT_APPLIED, id="absolute-not-done"
        ),
        pytest.param(EcsScaleParams(step=2), 4, ReconcileDecision.UNKNOWN, id="relative"),
    ],
)
def test_reconcile_scale(params: EcsScaleParams, current: int, expected: ReconcileDecision) -> None:
    assert reconcile_scale(params, current) is expected
