"""The visible queue of runs over a cap: a run that would exceed a cap when it is about to act
waits in status `queued` (never dropped) until a slot frees, or is cancelled (and escalated) after
`[caps] queue_timeout_minutes`. Every run that ends, and every queue timeout, starts a pass."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.engine.deps import EngineDeps
from bot.engine.gate import GateReason
from bot.engine.requests import escalate
from bot.engine.states import RunStatus, transition
from bot.jobs import enqueue
from bot.policies.caps import cap_problem, lock_caps
from bot.reasons import ReasonCode
from bot.store.models import RunbookRun

DEQUEUE_JOB = "runs.dequeue"


class QueueReason(ReasonCode):
    """Why a run waits, or stopped waiting (kept in `runbook_runs.reason` and `.policy`)."""

    CAP_FULL = "cap_queued", "queued: {cap}"
    SLOT_FREED = "cap_slot_freed", "a cap slot freed"
    WAITED_TOO_LONG = "cap_queue_timeout", "waited {timeout} for a cap slot: {cap}"


def admit_or_queue(session: Session, deps: EngineDeps, run: RunbookRun, now: datetime) -> bool:
    """Called with the run APPROVED, just before it acts: True to act now; False when it was
    queued (a cap is full). A run a human approved past its cap is admitted."""
    caps = deps.settings.caps
    if (run.policy or {}).get("reason") == GateReason.CAP_NEEDS_APPROVAL.value:
        return True
    lock_caps(session)
    problem = cap_problem(
        session, caps, runbook=run.runbook_id, target=run.target, service=run.service, now=now, exclude=run.id
    )
    if not problem:
        return True
    queued_at = (run.policy or {}).get("queued_at") or now.isoformat()
    run.policy = {
        **(run.policy or {}),
        "reason": QueueReason.CAP_FULL.value,
        "cap": problem,
        "queued_at": queued_at,
    }
    transition(session, run, RunStatus.QUEUED, now=now, reason=QueueReason.CAP_FULL.say(cap=problem))
    timeout_at = datetime.fromisoformat(queued_at) + timedelta(minutes=caps.queue_timeout_minutes)
    enqueue(
        session,
        kind=DEQUEUE_JOB,
        payload={"reason": "timeout", "run_id": run.id},
        now=now,
        run_after=max(timeout_at, now),
        dedupe_key=f"{DEQUEUE_JOB}:timeout:{run.id}",
    )
    deps.notify(session, run.id, RunStatus.QUEUED.value)
    return False


def request_pass(session: Session, now: datetime, *, after_run: int) -> None:
    """Ask for a queue pass (a run ended, so a slot may have freed)."""
    enqueue(
        session,
        kind=DEQUEUE_JOB,
        payload={"reason": "run_ended", "run_id": after_run},
        now=now,
        dedupe_key=f"{DEQUEUE_JOB}:ended:{after_run}",
    )


def dequeue_pass(deps: EngineDeps) -> list[int]:
    """Let queued runs go, oldest first, while the caps allow; cancel those that waited too long.
    Returns the ids of the runs let go."""
    now = deps.clock()
    timeout = timedelta(minutes=deps.settings.caps.queue_timeout_minutes)
    released = []
    with deps.store.transaction() as session:
        lock_caps(session)
        queued = session.scalars(
            select(RunbookRun).where(RunbookRun.status == RunStatus.QUEUED.value).order_by(RunbookRun.id)
        ).all()
        for run in queued:
            since = datetime.fromisoformat(str((run.policy or {}).get("queued_at") or now.isoformat()))
            if now - since >= timeout:
                why = QueueReason.WAITED_TOO_LONG.say(timeout=timeout, cap=(run.policy or {}).get("cap", ""))
                transition(session, run, RunStatus.CANCELLED, now=now, reason=why)
                escalate(session, deps, run, why, now)
                deps.notify(session, run.id, RunStatus.CANCELLED.value)
                continue
            problem = cap_problem(
                session,
                deps.settings.caps,
                runbook=run.runbook_id,
                target=run.target,
                service=run.service,
                now=now,
                exclude=run.id,
            )
            if problem:
                continue
            transition(session, run, RunStatus.APPROVED, now=now, reason=QueueReason.SLOT_FREED.say())
            enqueue(
                session,
                kind="run.execute",
                payload={"run_id": run.id},
                now=now,
                dedupe_key=f"run.execute:{run.id}:dequeued:{now.isoformat()}",
            )
            deps.notify(session, run.id, RunStatus.APPROVED.value)
            session.flush()  # the next candidate counts this one as in flight
            released.append(run.id)
    return released
