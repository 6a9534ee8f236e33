"""The budget check on moto's AWS Budgets.

moto never computes spend: DescribeBudgets returns the `CalculatedSpend` given to CreateBudget (zeros
when none was given), so the tests plant actual spend that way and check the threshold logic on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from bot.store.models import Alert, Incident
from bot.sweeps.budget import judge
from bot.sweeps.runner import run_sweep
from integrations.aws.budgets import BudgetStatus
from tests.fakes.moto_server import MotoServer
from tests.sweeps.conftest import NOW, context_for, make_runtime

ACCOUNT = "123456789012"  # moto's default account


def create_budget(name: str, limit: float, actual: float) -> None:
    budget: Any = {
        "BudgetName": name,
        "BudgetLimit": {"Amount": f"{limit:.2f}", "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
        "CalculatedSpend": {
            "ActualSpend": {"Amount": f"{actual:.2f}", "Unit": "USD"},
            "ForecastedSpend": {"Amount": f"{actual * 1.3:.2f}", "Unit": "USD"},
        },
    }
    boto3.client("budgets", region_name="us-east-1").create_budget(AccountId=ACCOUNT, Budget=budget)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        pytest.param(79.99, None, id="under-the-share"),
        pytest.param(80.0, "warning", id="at-the-share"),
        pytest.param(99.0, "warning", id="near-the-limit"),
        pytest.param(100.0, "critical", id="at-the-limit"),
        pytest.param(130.0, "critical", id="over"),
    ],
)
def test_judge(actual: float, expected: str | None) -> None:
    budget = BudgetStatus("b", "COST", "MONTHLY", limit=100.0, actual=actual, forecast=None, unit="USD")
    severity = judge(budget, 0.8)
    assert (severity.value if severity else None) == expected


def test_zero_limit_is_never_judged() -> None:
    assert judge(BudgetStatus("b", "COST", "MONTHLY", 0.0, 5.0, None, "USD"), 0.8) is None


def test_budgets_over_the_share_alert_and_resolve(
    moto: MotoServer, data_dir: Path, runtimes: list[Runtime]
) -> None:
    create_budget("monthly-total", 1000, 850)  # 85%: warning
    create_budget("team-a", 200, 250)  # 125%: critical
    create_budget("team-b", 500, 100)  # 20%: fine
    runtime = make_runtime(data_dir, [{"name": "budgets", "kind": "budget"}])  # account from STS
    runtimes.append(runtime)
    context = context_for(runtime)

    report = run_sweep("budgets", context=context, now=NOW)

    assert report.status == "ok", report.error
    assert report.series_scanned == 3
    assert [(f["budget"], f["severity"]) for f in report.findings] == [
        ("team-a", "critical"),
        ("monthly-total", "warning"),
    ]
    assert report.findings[0]["share"] == pytest.approx(1.25)
    assert report.findings[0]["forecast"] == pytest.approx(325.0)
    assert report.details["account_id"] == ACCOUNT
    assert [s.source for s in report.sources] == ["aws.budgets"]
    runtime.processor.run_once("w")
    with runtime.store.sessions() as session:
        alerts = {a.fingerprint: a for a in session.scalars(select(Alert))}
        assert set(alerts) == {f"sweep:budget:{ACCOUNT}:team-a", f"sweep:budget:{ACCOUNT}:monthly-total"}
        assert alerts[f"sweep:budget:{ACCOUNT}:team-a"].severity == "critical"
        assert {i.resource_id for i in session.scalars(select(Incident))} == {"team-a", "monthly-total"}

    # A new period: team-a is back under its share, so its alert resolves.
    client = boto3.client("budgets", region_name="us-east-1")
    client.delete_budget(AccountId=ACCOUNT, BudgetName="team-a")
    create_budget("team-a", 200, 20)
    again = run_sweep("budgets", context=context, now=NOW, trigger="schedule", tick=NOW)
    assert [f["budget"] for f in again.findings] == ["monthly-total"]
    assert again.details["alerts_resolved"] == 1
    runtime.processor.run_once("w")
    with runtime.store.sessions() as session:
        alert = session.scalars(select(Alert).where(Alert.fingerprint.endswith(":team-a"))).one()
        assert alert.status == "resolved"


def test_named_budgets_and_a_custom_share(moto: MotoServer, data_dir: Path, runtimes: list[Runtime]) -> None:
    create_budget("team-a", 200, 110)  # 55%
    create_budget("team-b", 500, 100)
    sweep = {
        "name": "b",
        "kind": "budget",
        "account_id": ACCOUNT,
        "budget_names": ["team-a"],
        "alert_share": 0.5,
    }
    runtime = make_runtime(data_dir, [sweep])
    runtimes.append(runtime)

    report = run_sweep("b", context=context_for(runtime), now=NOW)

    assert report.series_scanned == 1
    assert [(f["budget"], f["severity"]) for f in report.findings] == [("team-a", "warning")]


def test_a_missing_budget_makes_the_source_unhealthy(
    moto: MotoServer, data_dir: Path, runtimes: list[Runtime]
) -> None:
    create_budget("team-a", 200, 10)
    sweep = {"name": "b", "kind": "budget", "account_id": ACCOUNT, "budget_names": ["team-a", "team-z"]}
    runtime = make_runtime(data_dir, [sweep])
    runtimes.append(runtime)

    report = run_sweep("b", context=context_for(runtime), now=NOW)

    assert report.status == "degraded"
    (source,) = report.sources
    assert not source.healthy
    assert "no budget named 'team-z'" in (source.error or "")
