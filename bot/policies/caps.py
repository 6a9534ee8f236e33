"""Blast-radius caps: how many runs may act at once (overall, per runbook, per service) and how
many distinct targets one runbook may change per hour.

The count and the decision happen in one transaction holding the `caps` row of `policy_locks`
(SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serializes writers anyway), so two
replicas admitting runs at the same moment cannot both take the last slot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config.policies import CapSettings
from bot.reasons import ReasonCode
from bot.store.models import PolicyLock, RunbookRun


class CapReason(ReasonCode):
    """Which cap a run would exceed."""

    OVERALL = "cap_overall", "cap: {used} of {limit} runs in flight overall"
    RUNBOOK = "cap_runbook", "cap: {used} of {limit} runs of {runbook} in flight"
    SERVICE = "cap_service", "cap: {used} of {limit} runs on service {service} in flight"
    TARGETS = "cap_targets", "cap: {runbook} changed {used} of {limit} distinct targets in the last hour"


# Runs admitted to act, acting, or that may still be changing their target.
IN_FLIGHT = ("approved", "running", "verifying", "unknown")
CAPS_LOCK = "caps"
TARGET_WINDOW = timedelta(hours=1)


def lock_caps(session: Session) -> None:
    """Serialize cap decisions across replicas until the transaction ends."""
    query = select(PolicyLock).where(PolicyLock.name == CAPS_LOCK).with_for_update()
    if session.scalars(query).first() is None:
        try:
            with session.begin_nested():
                session.add(PolicyLock(name=CAPS_LOCK))
        except IntegrityError:
            pass  # another replica created it first
        session.scalars(query).first()


def _in_flight(session: Session, *conditions: object, exclude: int | None) -> int:
    query = select(func.count()).select_from(RunbookRun).where(RunbookRun.status.in_(IN_FLIGHT), *conditions)  # type: ignore[arg-type]
    if exclude is not None:
        query = query.where(RunbookRun.id != exclude)
    return int(session.scalar(query) or 0)


def cap_problem(
    session: Session,
    caps: CapSettings,
    *,
    runbook: str,
    target: str,
    service: str,
    now: datetime,
    exclude: int | None = None,
) -> str:
    """ "" when the run fits every cap; else the cap it would exceed, named."""
    if caps.max_concurrent:
        used = _in_flight(session, exclude=exclude)
        if used >= caps.max_concurrent:
            return CapReason.OVERALL.say(used=used, limit=caps.max_concurrent)
    per_runbook, targets_per_hour = caps.per_runbook(runbook)
    if per_runbook:
        used = _in_flight(session, RunbookRun.runbook_id == runbook, exclude=exclude)
        if used >= per_runbook:
            return CapReason.RUNBOOK.say(used=used, limit=per_runbook, runbook=runbook)
    if caps.max_concurrent_per_service and service:
        used = _in_flight(session, RunbookRun.service == service, exclude=exclude)
        if used >= caps.max_concurrent_per_service:
            return CapReason.SERVICE.say(used=used, limit=caps.max_concurrent_per_service, service=service)
    if targets_per_hour:
        since = now - TARGET_WINDOW
        query = (
            select(RunbookRun.target)
            .distinct()
            .where(
                RunbookRun.runbook_id == runbook,
                or_(RunbookRun.acted_at >= since, RunbookRun.status.in_(IN_FLIGHT)),
            )
        )
        if exclude is not None:
            query = query.where(RunbookRun.id != exclude)
        changed = set(session.scalars(query))
        if target not in changed and len(changed) >= targets_per_hour:
            return CapReason.TARGETS.say(runbook=runbook, used=len(changed), limit=targets_per_hour)
    return ""
