"""azure.appservice.restart end to end: real Azure SDKs over HTTPS to the ARM and logs fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.runbook_kit.services import ServiceRegistry
from bot.runbook_kit.spec import (
    REGISTRY,
    ApprovalMode,
    Outcome,
    ReconcileDecision,
    Risk,
    RunContext,
    RunResult,
    VerifyStatus,
)
from bot.runbook_kit.targets import parse_target
from integrations.azure.appservice import AppServiceClient
from integrations.azure.logs import LogAnalyticsClient
from integrations.azure.settings import AzureSettings
from runbooks.azure_appservice_restart import (
    RUNBOOK_ID,
    RestartParams,
    diagnose,
    reconcile_restart,
    restart_app_service,
    verify_running,
)
from tests.fakes.azure_arm import FakeAzureArm, FakeCredential, FakeSite
from tests.fakes.azure_logs import FakeAzureLogs
from tests.fakes.tls import TestTLS as TLSFixture

SUB = "11111111-2222-3333-4444-555555555555"
WORKSPACE = "66666666-7777-8888-9999-000000000000"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TARGET = parse_target(f"azure:web:site/{SUB}/rg-shop/web1")

OOM_ROWS = [
    ("System.OutOfMemoryException: Exception of type 'System.OutOfMemoryException' was thrown.", 4),
    ("java.lang.OutOfMemoryError: Java heap space", 2),
    ("Npgsql.NpgsqlException: Exception while reading from stream", 3),
]
OTHER_ROWS = [
    ("System.NullReferenceException: Object reference not set", 12),
    ("System.TimeoutException: The operation has timed out", 5),
    ("Container web1 exited: out of memory", 1),
]


@pytest.fixture(scope="module")
def fakes(test_tls: TLSFixture) -> Iterator[tuple[FakeAzureArm, FakeAzureLogs]]:
    with FakeAzureArm(tls=test_tls.server_context) as arm, FakeAzureLogs(tls=test_tls.server_context) as logs:
        yield arm, logs


@pytest.fixture
def arm(fakes: tuple[FakeAzureArm, FakeAzureLogs]) -> FakeAzureArm:
    fakes[0].reset()
    fakes[0].clock = lambda: NOW + timedelta(seconds=30)
    fakes[0].sites["web1"] = FakeSite(SUB, "rg-shop", "web1", last_modified=NOW - timedelta(days=3))
    return fakes[0]


@pytest.fixture
def logs(fakes: tuple[FakeAzureArm, FakeAzureLogs]) -> FakeAzureLogs:
    fakes[1].reset()
    return fakes[1]


@pytest.fixture
def ctx(arm: FakeAzureArm, logs: FakeAzureLogs, test_tls: TLSFixture) -> RunContext:
    settings = AzureSettings(
        arm_endpoint=arm.url,
        logs_endpoint=logs.url,
        workspace_id=WORKSPACE,
        ca_bundle=test_tls.ca_path,
        max_retries=0,
        oom_min_count=5,
        top_errors=3,
    )
    credential = FakeCredential()
    services = ServiceRegistry()
    services.put(AppServiceClient, AppServiceClient(settings, credential=credential))
    services.put(LogAnalyticsClient, LogAnalyticsClient(settings, credential=credential))
    return RunContext(run_id="run-1", services=services, clock=lambda: NOW)


def test_registered_metadata() -> None:
    spec = REGISTRY.get(RUNBOOK_ID)
    assert spec is not None
    assert spec.risk is Risk.MEDIUM
    assert spec.approval.mode is ApprovalMode.RISK_AT_LEAST
    assert spec.approval.risk is Risk.MEDIUM
    assert spec.target_kind == "azure:web:site"
    assert spec.reconcile is reconcile_restart
    assert not spec.idempotent
    assert spec.budget is not None
    assert spec.budget.max_runs == 3
    assert spec.cooldown == timedelta(minutes=15)
    assert spec.help.startswith("Restart an App Service web app")


def test_oom_over_the_count_restarts_exactly_once(
    ctx: RunContext, arm: FakeAzureArm, logs: FakeAzureLogs
) -> None:
    logs.set_errors(WORKSPACE, OOM_ROWS)

    result = restart_app_service(ctx, TARGET, RestartParams())

    assert result.outcome is Outcome.CHANGED
    assert arm.restarts["web1"] == 1
    [restart] = arm.writes()
    assert restart.method == "POST"
    assert (
        restart.path
        == f"/subscriptions/{SUB}/resourceGroups/rg-shop/providers/Microsoft.Web/sites/web1/restart"
    )
    assert result.details["oom_count"] == 6
    assert result.details["oom_min_count"] == 5
    assert verify_running(ctx, TARGET, RestartParams(), result) is VerifyStatus.SUCCEEDED
    # The diagnosis looked at this app over the configured window.
    [query] = logs.queries()
    assert 'AppRoleName =~ "web1"' in query
    assert "datetime(2026-11-20T11:50:00Z)" in query


def test_without_the_pattern_it_investigates_and_restarts_nothing(
    ctx: RunContext, arm: FakeAzureArm, logs: FakeAzureLogs
) -> None:
    logs.set_errors(WORKSPACE, OTHER_ROWS)

    plan = diagnose(ctx, TARGET, RestartParams())
    result = restart_app_service(ctx, TARGET, RestartParams())

    assert plan.is_noop
    assert plan.verdict == "investigate"
    assert plan.findings["oom_count"] == 1  # "out of memory" once: below the count of 5
    assert plan.findings["top_errors"] == [
        {"message": "System.NullReferenceException: Object reference not set", "count": 12},
        {"message": "System.TimeoutException: The operation has timed out", "count": 5},
        {"message": "Container web1 exited: out of memory", "count": 1},
    ]
    assert result.outcome is Outcome.NOOP
    assert result.reason == "investigate"
    assert result.details["top_errors"] == plan.findings["top_errors"]
    assert arm.restarts["web1"] == 0
    assert arm.writes() == []


def test_dry_run_shows_the_diagnosis_and_changes_nothing(
    ctx: RunContext, arm: FakeAzureArm, logs: FakeAzureLogs
) -> None:
    logs.set_errors(WORKSPACE, OOM_ROWS)

    plan = diagnose(ctx, TARGET, RestartParams())

    [call] = plan.calls
    assert (call.system, call.operation) == ("azure.web", "WebApps.Restart")
    assert call.params == {
        "subscription": SUB,
        "resource_group": "rg-shop",
        "name": "web1",
        "soft_restart": False,
    }
    assert call.before == "Running"
    assert "6 out-of-memory errors in the last 10 min (threshold 5)" in plan.summary
    assert plan.findings["oom_messages"][0]["count"] == 4
    assert arm.writes() == []
    assert arm.restarts["web1"] == 0


def test_params_override_the_count_and_window(
    ctx: RunContext, arm: FakeAzureArm, logs: FakeAzureLogs
) -> None:
    logs.set_errors(WORKSPACE, OOM_ROWS)
    plan = diagnose(ctx, TARGET, RestartParams(oom_min_count=7, lookback_minutes=30))
    assert plan.verdict == "investigate"
    assert plan.findings["lookback_minutes"] == 30
    assert "datetime(2026-11-20T11:30:00Z)" in logs.queries()[0]


def test_force_restarts_without_the_evidence(ctx: RunContext, arm: FakeAzureArm, logs: FakeAzureLogs) -> None:
    logs.set_errors(WORKSPACE, OTHER_ROWS)
    result = restart_app_service(ctx, TARGET, RestartParams(force=True, soft=True))
    assert result.outcome is Outcome.CHANGED
    assert "forced" in result.reason
    [restart] = arm.writes()
    assert restart.query["softRestart"] == ["true"]


def test_a_stopped_site_is_never_restarted(ctx: RunContext, arm: FakeAzureArm, logs: FakeAzureLogs) -> None:
    arm.sites["web1"].state = "Stopped"
    logs.set_errors(WORKSPACE, OOM_ROWS)
    result = restart_app_service(ctx, TARGET, RestartParams(force=True))
    assert result.outcome is Outcome.NOOP
    assert result.reason == "site_not_running"
    assert arm.writes() == []
    assert logs.queries() == []
    assert verify_running(ctx, TARGET, RestartParams(), RunResult.changed()) is VerifyStatus.FAILED


def test_reconcile_sees_a_restart_after_the_start(
    ctx: RunContext, arm: FakeAzureArm, logs: FakeAzureLogs
) -> None:
    logs.set_errors(WORKSPACE, OOM_ROWS)
    assert reconcile_restart(ctx, TARGET, RestartParams(), NOW) is ReconcileDecision.UNKNOWN

    restart_app_service(ctx, TARGET, RestartParams())  # the fake stamps lastModifiedTimeUtc NOW+30s

    assert reconcile_restart(ctx, TARGET, RestartParams(), NOW) is ReconcileDecision.ALREADY_APPLIED
    arm.sites["web1"].state = "Stopped"
    assert reconcile_restart(ctx, TARGET, RestartParams(), NOW) is ReconcileDecision.UNKNOWN
