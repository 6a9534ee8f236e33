"""The budget check: AWS Budgets whose actual spend reached `alert_share` of their limit.

Each such budget is a finding and an alert (source `sweep`, fingerprint per account and budget):
`warning` from the alert share, `critical` once the limit is reached. A budget that falls back under
the share (a new period) resolves its alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource, Severity
from bot.config.sweeps import SweepSettings
from bot.errors import IntegrationError
from bot.ingest.internal import submit_internal_alerts
from bot.store.db import Store
from bot.store.models import Alert
from bot.sweeps.report import KindResult, Progress, SourceReport, iso
from bot.sweeps.sources import SweepSources
from integrations.aws.budgets import BudgetStatus
from integrations.generic.internal import SWEEP


def budget_fingerprint(account: str, name: str) -> str:
    return f"sweep:budget:{account}:{name}"[:255]


def judge(budget: BudgetStatus, alert_share: float) -> Severity | None:
    """None under the share; warning from the share; critical at or over the limit."""
    share = budget.actual_share
    if share is None or share < alert_share:
        return None
    return Severity.CRITICAL if share >= 1.0 else Severity.WARNING


def run_budget(
    sweep: SweepSettings,
    *,
    sources: SweepSources,
    store: Store,
    now: datetime,
    delivery_id: str,
    progress: Progress | None = None,
) -> KindResult:
    client = sources.budgets()
    if progress is not None:
        progress("reading budgets", 0, 1)
    try:
        account = sweep.account_id or client.account_id()
        budgets = client.budgets(account, sweep.budget_names)
    except IntegrationError as error:
        return KindResult(sources=[SourceReport.of(client.health(), error=str(error))])
    if progress is not None:
        progress("read budgets", 1, 1)
    findings: list[dict[str, Any]] = []
    alerts: list[NormalizedAlert] = []
    under: dict[str, BudgetStatus] = {}
    for budget in budgets:
        severity = judge(budget, sweep.alert_share)
        fingerprint = budget_fingerprint(account, budget.name)
        if severity is None:
            under[fingerprint] = budget
            continue
        finding = _finding(budget, account, fingerprint, sweep.alert_share, severity)
        findings.append(finding)
        alerts.append(_alert(sweep, budget, account, finding, firing=True, now=now))
    resolved = [
        _alert(sweep, under[fp], account, None, firing=False, now=now) for fp in _firing(store, list(under))
    ]
    if alerts or resolved:
        submit_internal_alerts(
            store, source=SWEEP, alerts=alerts + resolved, delivery_id=delivery_id, now=now
        )
    findings.sort(key=lambda f: -float(f["share"]))
    return KindResult(
        series_scanned=len(budgets),
        findings=findings,
        sources=[SourceReport.of(client.health(), series=len(budgets))],
        details={
            "account_id": account,
            "alert_share": sweep.alert_share,
            "budgets": [
                {
                    "budget": b.name,
                    "actual": b.actual,
                    "limit": b.limit,
                    "unit": b.unit,
                    "share": b.actual_share,
                }
                for b in budgets
            ],
            "alerts_firing": len(alerts),
            "alerts_resolved": len(resolved),
        },
    )


def _firing(store: Store, fingerprints: list[str]) -> list[str]:
    if not fingerprints:
        return []
    with store.sessions() as session:
        return list(
            session.scalars(
                select(Alert.fingerprint).where(
                    Alert.source == SWEEP, Alert.status == "firing", Alert.fingerprint.in_(fingerprints)
                )
            )
        )


def _finding(
    budget: BudgetStatus, account: str, fingerprint: str, alert_share: float, severity: Severity
) -> dict[str, Any]:
    return {
        "type": "budget",
        "fingerprint": fingerprint,
        "budget": budget.name,
        "account_id": account,
        "budget_type": budget.budget_type,
        "time_unit": budget.time_unit,
        "actual": budget.actual,
        "limit": budget.limit,
        "forecast": budget.forecast,
        "unit": budget.unit,
        "share": budget.actual_share,
        "forecast_share": budget.forecast_share,
        "alert_share": alert_share,
        "severity": severity.value,
        "period_start": iso(budget.period_start),
        "period_end": iso(budget.period_end),
    }


def _alert(
    sweep: SweepSettings,
    budget: BudgetStatus,
    account: str,
    finding: dict[str, Any] | None,
    *,
    firing: bool,
    now: datetime,
) -> NormalizedAlert:
    share = budget.actual_share or 0.0
    summary = (
        f"Budget {budget.name} at {share:.0%} of its {budget.limit:.2f} {budget.unit} limit "
        f"({budget.actual:.2f} spent)"
    )
    return NormalizedAlert(
        source=SWEEP,
        fingerprint=budget_fingerprint(account, budget.name),
        name="BudgetThreshold",
        status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
        severity=Severity(finding["severity"]) if finding else Severity.WARNING,
        summary=summary if firing else f"Budget {budget.name} is back under {sweep.alert_share:.0%}",
        resource=Resource(
            provider=Provider.AWS, account=account, type="budgets:budget", id=budget.name, name=budget.name
        ),
        starts_at=now if firing else None,
        ends_at=None if firing else now,
        labels={"sweep": sweep.name, "budget": budget.name},
        annotations={
            "actual": f"{budget.actual:.2f}",
            "limit": f"{budget.limit:.2f}",
            "unit": budget.unit,
            "share": f"{share:.4f}",
            "alert_share": f"{sweep.alert_share:.4f}",
        },
    )
