"""aws.ecs.scale_service against moto: plan, act, verify, rollback, reconcile, guards."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from pydantic import ValidationError

from bot.runbook_kit.loader import load_builtin_runbooks
from bot.runbook_kit.spec import REGISTRY, ApprovalMode, Outcome, ReconcileDecision, Risk, VerifyStatus
from bot.runbook_kit.targets import parse_target
from integrations.aws.session import AwsError
from runbooks.aws_ecs_scale_service import (
    RUNBOOK_ID,
    EcsScaleParams,
    plan_scale,
    reconcile_scale_service,
    rollback_scale,
    scale_service,
    verify_scale,
)
from tests.fakes.moto_server import MotoServer
from tests.runbooks.conftest import MakeContext, SettableClock

TARGET = parse_target("aws:ecs:service/prod/checkout")


@pytest.fixture
def service(moto: MotoServer) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="checkout", containerDefinitions=[{"name": "web", "image": "web:1", "memory": 256}]
    )
    ecs.create_service(cluster="prod", serviceName="checkout", taskDefinition="checkout", desiredCount=2)


def desired_count() -> int:
    return boto3.client("ecs").describe_services(cluster="prod", services=["checkout"])["services"][0][
        "desiredCount"
    ]


def set_desired_count(count: int) -> None:
    boto3.client("ecs").update_service(cluster="prod", service="checkout", desiredCount=count)


def test_registered_with_its_policy() -> None:
    load_builtin_runbooks()
    spec = REGISTRY.get(RUNBOOK_ID)
    assert spec is not None
    assert spec.act is scale_service
    assert (spec.risk, spec.approval.mode, spec.approval.risk) == (
        Risk.MEDIUM,
        ApprovalMode.RISK_AT_LEAST,
        Risk.HIGH,
    )
    assert spec.budget is not None
    assert (spec.budget.max_runs, spec.budget.window, spec.cooldown) == (
        3,
        timedelta(hours=1),
        timedelta(minutes=10),
    )
    assert spec.rollback is rollback_scale
    assert spec.summary == "Scale an ECS service's desired task count, within min/max guards."


def test_plan_shows_before_and_after_and_changes_nothing(service: None, make_ctx: MakeContext) -> None:
    plan = plan_scale(make_ctx(), TARGET, EcsScaleParams(desired_count=4))

    (call,) = plan.calls
    assert (call.system, call.operation, call.before, call.after) == ("aws.ecs", "UpdateService", 2, 4)
    assert call.params == {"cluster": "prod", "service": "checkout", "desiredCount": 4}
    assert plan.findings["guards"] == [1, 10]
    assert desired_count() == 2


def test_act_verify_and_rollback(service: None, make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    params = EcsScaleParams(desired_count=5)

    result = scale_service(ctx, TARGET, params)

    assert (result.outcome, result.reason) == (Outcome.CHANGED, "desiredCount 2 -> 5")
    assert result.rollback_state == {"previous": 2, "applied": 5}
    assert desired_count() == 5
    assert verify_scale(ctx, TARGET, params, result) is VerifyStatus.SUCCEEDED  # moto runs them at once

    undone = rollback_scale(ctx, TARGET, params, result)

    assert (undone.outcome, undone.reason) == (Outcome.CHANGED, "desiredCount 5 -> 2 (rolled back)")
    assert desired_count() == 2


def test_rollback_refuses_to_undo_someone_elses_change(service: None, make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    params = EcsScaleParams(step=2)
    result = scale_service(ctx, TARGET, params)
    set_desired_count(7)  # e.g. Application Auto Scaling moved it since

    undone = rollback_scale(ctx, TARGET, params, result)

    assert undone.outcome is Outcome.FAILED
    assert desired_count() == 7
    assert verify_scale(ctx, TARGET, params, result) is VerifyStatus.FAILED


@pytest.mark.parametrize(
    ("params", "verdict", "message"),
    [
        pytest.param(
            EcsScaleParams(desired_count=11), "beyond_guard", "above the max guard 10", id="above-config-max"
        ),
        pytest.param(
            EcsScaleParams(desired_count=4, max=3),
            "beyond_guard",
            "above the max guard 3",
            id="above-param-max",
        ),
        pytest.param(
            EcsScaleParams(desired_count=0), "beyond_guard", "below the min guard 1", id="below-config-min"
        ),
        pytest.param(EcsScaleParams(desired_count=2), "already_at_target", "already is 2", id="same-count"),
        pytest.param(EcsScaleParams(step=1, max=2), "at_limit", "stays 2", id="step-pinned-at-max"),
    ],
)
def test_guards_and_no_ops_change_nothing(
    service: None, make_ctx: MakeContext, params: EcsScaleParams, verdict: str, message: str
) -> None:
    ctx = make_ctx()

    plan = plan_scale(ctx, TARGET, params)
    result = scale_service(ctx, TARGET, params)

    assert (plan.calls, plan.verdict) == ([], verdict)
    assert message in plan.summary
    assert (result.outcome, result.reason) == (Outcome.NOOP, verdict)
    assert desired_count() == 2


@pytest.mark.parametrize(
    ("params", "after"),
    [
        pytest.param(EcsScaleParams(step=3), 5, id="step"),
        pytest.param(EcsScaleParams(step=-1), 1, id="step-in"),
        pytest.param(EcsScaleParams(factor=1.5), 3, id="factor-rounds-up"),
        pytest.param(EcsScaleParams(step=20), 10, id="step-clamped-to-config-max"),
        pytest.param(EcsScaleParams(factor=3, max=5), 5, id="factor-clamped-to-param-max"),
        pytest.param(EcsScaleParams(step=-5), 1, id="step-in-clamped-to-min"),
    ],
)
def test_relative_changes_are_clamped_to_the_guards(
    service: None, make_ctx: MakeContext, params: EcsScaleParams, after: int
) -> None:
    result = scale_service(make_ctx(), TARGET, params)

    assert result.outcome is Outcome.CHANGED
    assert desired_count() == after


def test_scale_out_never_scales_in_a_service_above_the_max(service: None, make_ctx: MakeContext) -> None:
    set_desired_count(12)  # above the guard max 10, set by someone else

    result = scale_service(make_ctx(), TARGET, EcsScaleParams(step=1))

    assert (result.outcome, result.reason) == (Outcome.NOOP, "at_limit")
    assert desired_count() == 12


def test_reconcile_absolute_compares_with_the_live_count(
    service: None, make_ctx: MakeContext, clock: SettableClock
) -> None:
    ctx = make_ctx()
    params = EcsScaleParams(desired_count=4)
    assert reconcile_scale_service(ctx, TARGET, params, clock()) is ReconcileDecision.NOT_APPLIED
    scale_service(ctx, TARGET, params)  # then "crash" before the result is stored
    assert reconcile_scale_service(ctx, TARGET, params, clock()) is ReconcileDecision.ALREADY_APPLIED


def test_reconcile_relative_escalates(service: None, make_ctx: MakeContext, clock: SettableClock) -> None:
    decision = reconcile_scale_service(make_ctx(), TARGET, EcsScaleParams(step=1), clock())
    assert decision is ReconcileDecision.UNKNOWN


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"desired_count": 3, "step": 1}, id="two-forms"),
        pytest.param({"step": 0}, id="zero-step"),
        pytest.param({"factor": 0}, id="zero-factor"),
        pytest.param({"desired_count": 3, "min": 5, "max": 4}, id="min-above-max"),
        pytest.param({"desired_count": 3, "desired": 4}, id="unknown-param"),
    ],
)
def test_invalid_params_are_rejected(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EcsScaleParams.model_validate(raw)


def test_params_from_cli_strings() -> None:
    assert EcsScaleParams.model_validate({"factor": "1.5", "max": "8"}).describe() == "factor x1.5"


def test_missing_service_is_a_non_retryable_error(service: None, make_ctx: MakeContext) -> None:
    with pytest.raises(AwsError) as info:
        plan_scale(make_ctx(), parse_target("aws:ecs:service/prod/nope"), EcsScaleParams(step=1))
    assert (info.value.code, info.value.retryable) == ("ServiceNotFoundException", False)
