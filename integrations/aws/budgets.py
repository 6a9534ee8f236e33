"""AWS Budgets, read-only: each budget's limit against its actual and forecast spend.

`DescribeBudgets` (read with boto3's paginator; botocore retries each page) returns `BudgetLimit`
(or `PlannedBudgetLimits` keyed by period start, in epoch seconds) and `CalculatedSpend.ActualSpend`
/ `ForecastedSpend`. Budgets is a global service (its endpoint lives in us-east-1); the account id
defaults to the caller's own (STS GetCallerIdentity).

What moto 5.2 does (the tests' backend): create/describe work and DescribeBudgets never paginates;
moto never computes spend — it returns the `CalculatedSpend` given to CreateBudget, else zeros.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.clock import Clock, utc_now
from integrations.aws.session import AwsError, aws_errors, make_client
from integrations.aws.settings import AwsSettings
from integrations.metrics import HealthTracker, SourceHealth

if TYPE_CHECKING:
    from mypy_boto3_budgets.client import BudgetsClient as BotoBudgets
    from mypy_boto3_sts.client import STSClient

SYSTEM = "aws.budgets"
_GLOBAL_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One budget as the check sees it. Amounts are in `unit` (e.g. USD)."""

    name: str
    budget_type: str
    time_unit: str
    limit: float
    actual: float
    forecast: float | None
    unit: str
    period_start: datetime | None = None
    period_end: datetime | None = None

    @property
    def actual_share(self) -> float | None:
        """Actual spend as a share of the limit (1.0 = the whole budget); None for a zero limit."""
        return self.actual / self.limit if self.limit > 0 else None

    @property
    def forecast_share(self) -> float | None:
        if self.forecast is None or self.limit <= 0:
            return None
        return self.forecast / self.limit


class BudgetsClient:
    """Reads budgets with boto3 (`AWS_ENDPOINT_URL` points it at moto in tests)."""

    def __init__(
        self,
        aws: AwsSettings | None = None,
        *,
        client: BotoBudgets | None = None,
        sts: STSClient | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._aws = aws or AwsSettings()
        self._client = client
        self._sts = sts
        self._lock = threading.Lock()
        self._account: str | None = None
        self._clock = clock
        self._health = HealthTracker(SYSTEM, clock=clock)
        self.api_calls = 0

    @property
    def name(self) -> str:
        return SYSTEM

    def health(self) -> SourceHealth:
        return self._health.snapshot()

    def account_id(self) -> str:
        """The caller's account (STS GetCallerIdentity), asked once."""
        with self._lock:
            if self._account is None:
                sts = self._sts or self._make("sts")
                self._sts = sts
                with aws_errors("aws.sts", "GetCallerIdentity"):
                    self.api_calls += 1
                    self._account = str(sts.get_caller_identity()["Account"])
            return self._account

    def budgets(self, account_id: str, names: Sequence[str] = ()) -> list[BudgetStatus]:
        """Every budget of the account, or those named (a missing name raises, not-retryable)."""
        try:
            found = self._describe_all(account_id)
            if names:
                by_name = {b.name: b for b in found}
                missing = [n for n in names if n not in by_name]
                if missing:
                    raise AwsError(
                        f"{SYSTEM} DescribeBudgets: no budget named {', '.join(map(repr, missing))} "
                        f"in account {account_id} (found: {', '.join(sorted(by_name)) or 'none'})",
                        retryable=False,
                        system=SYSTEM,
                        operation="DescribeBudgets",
                        code="NotFoundException",
                    )
                found = [by_name[n] for n in names]
        except AwsError as error:
            self._health.record_failure(error)
            raise
        self._health.record_success()
        return found

    def _describe_all(self, account_id: str) -> list[BudgetStatus]:
        paginator = self._budgets_client().get_paginator("describe_budgets")
        found: list[BudgetStatus] = []
        with aws_errors(SYSTEM, "DescribeBudgets"):
            for page in paginator.paginate(AccountId=account_id, PaginationConfig={"PageSize": 100}):
                self.api_calls += 1
                found += [_status(raw, self._clock()) for raw in page.get("Budgets", [])]
        return found

    def _budgets_client(self) -> BotoBudgets:
        with self._lock:
            if self._client is None:
                self._client = self._make("budgets")
            return self._client

    def _make(self, service: str) -> Any:
        return make_client(service, self._aws, region=self._aws.region or _GLOBAL_REGION)


def _amount(spend: Any) -> tuple[float, str] | None:
    if not isinstance(spend, dict) or "Amount" not in spend:
        return None
    return float(spend["Amount"]), str(spend.get("Unit", "USD"))


def _current_limit(raw: Any, now: datetime) -> tuple[float, str]:
    """`BudgetLimit`, else the `PlannedBudgetLimits` entry of the period that has started last."""
    fixed = _amount(raw.get("BudgetLimit"))
    if fixed is not None:
        return fixed
    planned = raw.get("PlannedBudgetLimits") or {}
    started = [(int(k), v) for k, v in planned.items() if str(k).isdigit() and int(k) <= now.timestamp()]
    if not started:
        return 0.0, "USD"
    return _amount(max(started)[1]) or (0.0, "USD")


def _status(raw: Any, now: datetime) -> BudgetStatus:
    limit, unit = _current_limit(raw, now)
    spend = raw.get("CalculatedSpend") or {}
    actual = _amount(spend.get("ActualSpend"))
    forecast = _amount(spend.get("ForecastedSpend"))
    period = raw.get("TimePeriod") or {}
    return BudgetStatus(
        name=str(raw["BudgetName"]),
        budget_type=str(raw.get("BudgetType", "")),
        time_unit=str(raw.get("TimeUnit", "")),
        limit=limit,
        actual=actual[0] if actual else 0.0,
        forecast=forecast[0] if forecast else None,
        unit=unit,
        period_start=_utc(period.get("Start")),
        period_end=_utc(period.get("End")),
    )


def _utc(value: Any) -> datetime | None:
    return value.astimezone(UTC) if isinstance(value, datetime) else None
