"""A runbook run is a persisted state machine; every transition is audited."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.errors import InvalidTransition
from bot.store.models import RunbookRun


class RunStatus(StrEnum):
    PLANNED = "planned"
    # A rule in suggest mode: the plan is shown with a "Run it" button; this run never acts.
    SUGGESTED = "suggested"
    # Over a blast-radius cap when about to act: waits (holding its target) until a slot frees.
    QUEUED = "queued"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    RUNNING = "running"
    VERIFYING = "verifying"
    # The action outlived its timeout and may still be changing the target: the run keeps the
    # target's lock until the action has ended (then TIMED_OUT), or is reconciled after a crash.
    UNKNOWN = "unknown"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    INEFFECTIVE = "ineffective"


FINAL = frozenset(
    {
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.TIMED_OUT,
        RunStatus.CANCELLED,
        RunStatus.REJECTED,
        RunStatus.EXPIRED,
        RunStatus.INEFFECTIVE,
        RunStatus.SUGGESTED,
    }
)
# Statuses that hold the target's lock (and count toward "runs in flight").
ACTIVE = frozenset(set(RunStatus) - FINAL)

ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PLANNED: frozenset(
        # SUCCEEDED straight from PLANNED: the plan found nothing to change (e.g. "investigate")
        {
            RunStatus.AWAITING_APPROVAL,
            RunStatus.APPROVED,
            RunStatus.REJECTED,
            RunStatus.CANCELLED,
            RunStatus.SUCCEEDED,
            RunStatus.SUGGESTED,
        }
    ),
    RunStatus.AWAITING_APPROVAL: frozenset(
        {RunStatus.APPROVED, RunStatus.REJECTED, RunStatus.EXPIRED, RunStatus.CANCELLED}
    ),
    RunStatus.APPROVED: frozenset(
        {RunStatus.RUNNING, RunStatus.REJECTED, RunStatus.CANCELLED, RunStatus.QUEUED}
    ),
    RunStatus.QUEUED: frozenset({RunStatus.APPROVED, RunStatus.CANCELLED, RunStatus.REJECTED}),
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.VERIFYING,
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
            RunStatus.UNKNOWN,
            RunStatus.APPROVED,  # reconciled after a crash: the call never happened, run it again
        }
    ),
    RunStatus.UNKNOWN: frozenset({RunStatus.TIMED_OUT}),
    RunStatus.VERIFYING: frozenset({RunStatus.SUCCEEDED, RunStatus.INEFFECTIVE, RunStatus.FAILED}),
}


def transition(
    session: Session,
    run: RunbookRun,
    to: RunStatus,
    *,
    now: datetime,
    actor: str = "system",
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    current = RunStatus(run.status)
    if to not in ALLOWED.get(current, frozenset()):
        raise InvalidTransition(f"run {run.id}: {current.value} -> {to.value} is not allowed")
    run.status = to.value
    run.updated_at = now
    if reason:
        run.reason = reason
    if to in FINAL:
        run.active_target = None
        run.finished_at = now
        run.in_flight = ""
        run.claimed_by = None
        run.claimed_until = None
    audit(
        session,
        at=now,
        actor=actor,
        subject=f"run:{run.id}",
        action=f"run.{to.value}",
        details={
            "from": current.value,
            "runbook": run.runbook_id,
            "target": run.target,
            "reason": reason,
            **(details or {}),
        },
    )


def load_run(session: Session, run_id: int) -> RunbookRun | None:
    """The run, locked for this transaction where the store has row locks (PostgreSQL)."""
    query = select(RunbookRun).where(RunbookRun.id == run_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()
