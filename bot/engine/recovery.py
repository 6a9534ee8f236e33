"""Crash recovery: runs a dead process left `running` or `unknown` are reconciled against the
target's real state before anything is repeated or the target is released.

- `running` (the process died around the call): the runbook's `reconcile` decides whether the
  action happened (verify it), did not (run it again) or cannot be told (fail and escalate).
- `unknown` (the action outlived its timeout, then its process died, taking the action with it):
  the action has ended, so the target is released as `timed_out`, with what reconciliation found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.engine.action_thread import AbandonedActions
from bot.engine.deps import EngineDeps
from bot.engine.requests import escalate
from bot.engine.serialize import result_to_json
from bot.engine.states import RunStatus, load_run, transition
from bot.errors import IntegrationError
from bot.jobs import enqueue
from bot.runbook_kit.spec import ReconcileDecision, RunbookSpec, RunResult
from bot.runbook_kit.targets import Target
from bot.store.models import RunbookRun


class Executor(Protocol):
    """What reconciling needs of `bot.engine.execution.Executor`."""

    deps: EngineDeps
    abandoned: AbandonedActions

    def spec_target_params(self, run: RunbookRun) -> tuple[RunbookSpec[Any], Target, BaseModel]: ...

    def context_for(self, run: RunbookRun) -> Any: ...

    def start_verifying(self, session: Session, run: RunbookRun, now: datetime, reason: str) -> None: ...


INTERRUPTED = (RunStatus.RUNNING.value, RunStatus.UNKNOWN.value)


def reconcile_interrupted(executor: Executor) -> int:
    """Reconcile every interrupted run whose claim has run out; returns how many."""
    deps = executor.deps
    now = deps.clock()
    alive_here = executor.abandoned.running()
    with deps.store.sessions() as session:
        stuck = [
            run_id
            for run_id in session.scalars(
                select(RunbookRun.id).where(
                    RunbookRun.status.in_(INTERRUPTED),
                    or_(RunbookRun.claimed_until.is_(None), RunbookRun.claimed_until < now),
                )
            ).all()
            if run_id not in alive_here
        ]
    for run_id in stuck:
        _reconcile(executor, run_id)
    return len(stuck)


def _decide(executor: Executor, run_id: int) -> tuple[str, ReconcileDecision] | None:
    with executor.deps.store.sessions() as session:
        run = session.get(RunbookRun, run_id)
        if run is None or run.status not in INTERRUPTED:
            return None
        status = run.status
        spec, target, params = executor.spec_target_params(run)
        started_at = run.started_at or run.created_at
    if status == RunStatus.RUNNING.value and (spec.idempotent or spec.reconcile is None):
        return status, ReconcileDecision.NOT_APPLIED  # safe to repeat blindly
    if spec.reconcile is None:
        return status, ReconcileDecision.UNKNOWN  # what a timed-out action did, nobody can tell
    try:
        return status, spec.reconcile(executor.context_for(run), target, params, started_at)
    except IntegrationError:
        return status, ReconcileDecision.UNKNOWN


def _reconcile(executor: Executor, run_id: int) -> None:
    decided = _decide(executor, run_id)
    if decided is None:
        return
    status, decision = decided
    deps = executor.deps
    now = deps.clock()
    with deps.store.transaction() as session:
        run = load_run(session, run_id)
        if run is None or run.status != status:
            return
        details = {"decision": decision.value}
        run.in_flight = ""
        if status == RunStatus.UNKNOWN.value:
            if decision is ReconcileDecision.ALREADY_APPLIED:
                run.acted_at = now
            reason = f"timed out, then its process ended; reconciliation: {decision.value}"
            transition(session, run, RunStatus.TIMED_OUT, now=now, reason=reason, details=details)
        elif decision is ReconcileDecision.ALREADY_APPLIED:
            run.result = result_to_json(RunResult.changed("applied before a crash; found by reconciliation"))
            run.acted_at = now
            executor.start_verifying(session, run, now, reason="reconciled: the action had been applied")
        elif decision is ReconcileDecision.NOT_APPLIED:
            transition(
                session,
                run,
                RunStatus.APPROVED,
                now=now,
                reason="reconciled: not applied; running again",
                details=details,
            )
            enqueue(
                session,
                kind="run.execute",
                payload={"run_id": run.id},
                now=now,
                dedupe_key=f"run.execute:{run.id}:{run.attempts + 1}",
            )
        else:
            reason = "interrupted by a crash and the target's state is unknown; not repeating it"
            transition(session, run, RunStatus.FAILED, now=now, reason=reason, details=details)
            escalate(session, deps, run, reason, now)
        deps.notify(session, run.id, run.status)
