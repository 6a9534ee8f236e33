"""azure.appservice.scale_plan end to end: the real azure-mgmt-web SDK over HTTPS to the ARM fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.runbook_kit.services import ServiceRegistry
from bot.runbook_kit.spec import REGISTRY, ApprovalMode, Outcome, Risk, RunContext, VerifyStatus
from bot.runbook_kit.targets import parse_target
from integrations.azure.appservice import AppServiceClient
from integrations.azure.settings import AzureSettings
from runbooks.azure_appservice_scale_plan import (
    RUNBOOK_ID,
    ScalePlanParams,
    plan_scale,
    rollback_workers,
    scale_app_service_plan,
    verify_workers,
)
from tests.fakes.azure_arm import FakeAzureArm, FakeCredential, FakePlan
from tests.fakes.tls import TestTLS as TLSFixture

SUB = "11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TARGET = parse_target(f"azure:web:plan/{SUB}/rg-shop/plan-shop")


@pytest.fixture(scope="module")
def arm_server(test_tls: TLSFixture) -> Iterator[FakeAzureArm]:
    with FakeAzureArm(tls=test_tls.server_context) as server:
        yield server


@pytest.fixture
def arm(arm_server: FakeAzureArm) -> FakeAzureArm:
    arm_server.reset()
    arm_server.plans["plan-shop"] = FakePlan(SUB, "rg-shop", "plan-shop", capacity=2, max_workers=30)
    return arm_server


@pytest.fixture
def ctx(arm: FakeAzureArm, test_tls: TLSFixture) -> RunContext:
    settings = AzureSettings(
        arm_endpoint=arm.url, ca_bundle=test_tls.ca_path, max_retries=0, min_workers=1, max_workers=8
    )
    services = ServiceRegistry()
    services.put(AppServiceClient, AppServiceClient(settings, credential=FakeCredential()))
    return RunContext(run_id="run-1", services=services, clock=lambda: NOW)


def test_registered_metadata() -> None:
    spec = REGISTRY.get(RUNBOOK_ID)
    assert spec is not None
    assert spec.risk is Risk.MEDIUM
    assert spec.idempotent
    assert spec.rollback is rollback_workers
    assert spec.approval.mode is ApprovalMode.RISK_AT_LEAST
    assert spec.approval.risk is Risk.HIGH
    assert spec.target_kind == "azure:web:plan"
    assert spec.budget is not None
    assert spec.budget.max_runs == 3
    assert spec.cooldown == timedelta(minutes=10)


def test_plan_shows_before_and_after_and_changes_nothing(ctx: RunContext, arm: FakeAzureArm) -> None:
    plan = plan_scale(ctx, TARGET, ScalePlanParams(workers=4))

    [call] = plan.calls
    assert (call.operation, call.before, call.after) == ("AppServicePlans.CreateOrUpdate", 2, 4)
    assert call.params["sku.capacity"] == 4
    assert plan.summary == "scale plan-shop workers 2 -> 4"
    assert arm.writes() == []
    assert arm.plans["plan-shop"].capacity == 2


def test_scale_then_verify_then_rollback_restores(ctx: RunContext, arm: FakeAzureArm) -> None:
    params = ScalePlanParams(workers=5)

    result = scale_app_service_plan(ctx, TARGET, params)

    assert result.outcome is Outcome.CHANGED
    assert arm.plans["plan-shop"].capacity == 5
    [put] = arm.writes()
    assert put.method == "PUT"
    assert put.json()["sku"]["capacity"] == 5
    assert result.rollback_state == {"previous": 2, "applied": 5}
    assert verify_workers(ctx, TARGET, params, result) is VerifyStatus.SUCCEEDED

    undone = rollback_workers(ctx, TARGET, params, result)

    assert undone.outcome is Outcome.CHANGED
    assert arm.plans["plan-shop"].capacity == 2


def test_rollback_leaves_a_count_someone_changed_since(ctx: RunContext, arm: FakeAzureArm) -> None:
    result = scale_app_service_plan(ctx, TARGET, ScalePlanParams(workers=5))
    arm.plans["plan-shop"].capacity = 7  # a human scaled it meanwhile

    undone = rollback_workers(ctx, TARGET, ScalePlanParams(workers=5), result)

    assert undone.outcome is Outcome.FAILED
    assert "changed since" in undone.reason
    assert arm.plans["plan-shop"].capacity == 7


@pytest.mark.parametrize(
    ("params", "why"),
    [
        pytest.param(
            ScalePlanParams(workers=9), "above the maximum allowed for plan-shop (1..8)", id="config-max"
        ),
        pytest.param(ScalePlanParams(workers=4, max_workers=3), "(1..3)", id="param-narrows-max"),
        pytest.param(ScalePlanParams(workers=9, max_workers=20), "(1..8)", id="param-cannot-widen"),
        pytest.param(ScalePlanParams(workers=1, min_workers=2), "below the minimum", id="param-min"),
    ],
)
def test_guards_stop_a_scale_beyond_them(
    ctx: RunContext, arm: FakeAzureArm, params: ScalePlanParams, why: str
) -> None:
    plan = plan_scale(ctx, TARGET, params)
    result = scale_app_service_plan(ctx, TARGET, params)

    assert plan.is_noop
    assert plan.verdict == "beyond_guard"
    assert why in plan.summary
    assert result.outcome is Outcome.NOOP
    assert result.reason == "beyond_guard"
    assert arm.writes() == []
    assert arm.plans["plan-shop"].capacity == 2


def test_the_skus_own_maximum_is_a_guard(ctx: RunContext, arm: FakeAzureArm) -> None:
    arm.plans["plan-shop"].max_workers = 3
    plan = plan_scale(ctx, TARGET, ScalePlanParams(workers=4))
    assert plan.verdict == "beyond_guard"
    assert plan.findings["max_workers"] == 3


def test_setting_the_current_count_is_a_noop(ctx: RunContext, arm: FakeAzureArm) -> None:
    result = scale_app_service_plan(ctx, TARGET, ScalePlanParams(workers=2))
    assert result.outcome is Outcome.NOOP
    assert result.reason == "already_at_target"
    assert arm.writes() == []


def test_params_reject_inverted_guards() -> None:
    with pytest.raises(ValueError, match="min_workers"):
        ScalePlanParams(workers=3, min_workers=5, max_workers=4)
