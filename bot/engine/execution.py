"""Running an approved run: act (once, with a timeout), verify, roll back.

Crash safety: the run is marked `running` with `in_flight="acting"` and committed *before*
the call; the result is stored after it. A run found in that state at start-up is reconciled
against the target's real state before anything is repeated.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.engine.deps import EngineDeps, incident_context, parse_for
from bot.engine.requests import _budget_problem, escalate
from bot.engine.serialize import result_from_json, result_to_json
from bot.engine.states import RunStatus, transition
from bot.errors import IntegrationError
from bot.incidents.service import resolve as resolve_incident
from bot.jobs import enqueue
from bot.logs import get_logger
from bot.runbooks.spec import Outcome, ReconcileDecision, RunbookSpec, RunResult, VerifyStatus
from bot.runbooks.targets import Target
from bot.store.models import Incident, RunbookRun

log = get_logger(__name__)


class RunTimedOut(Exception):
    pass


def _load(session: Session, run_id: int) -> RunbookRun | None:
    query = select(RunbookRun).where(RunbookRun.id == run_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def _call_with_timeout(fn: Callable[[], RunResult], *, timeout: float) -> RunResult:
    """Run `fn` once with a timeout. Never retried here: each outside call has its one retry
    layer in its client (see docs/retries.md), so a failure is the run's result."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="runbook")
    future = pool.submit(fn)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise RunTimedOut(f"no answer within {timeout:g}s") from None
    except IntegrationError as exc:
        return RunResult.failed(f"{exc.__class__.__name__}: {exc}", retryable=exc.retryable)
    finally:
        pool.shutdown(wait=False)


class Executor:
    def __init__(self, deps: EngineDeps) -> None:
        self.deps = deps

    # -- helpers -----------------------------------------------------------------------------
    def _spec_target_params(self, run: RunbookRun) -> tuple[RunbookSpec[Any], Target, BaseModel]:
        spec = self.deps.spec(run.runbook_id)
        target, params = parse_for(spec, run.target, dict(run.params or {}))
        return spec, target, params

    def _context(self, run: RunbookRun) -> Any:
        with self.deps.store.sessions() as session:
            incident = session.get(Incident, run.incident_id) if run.incident_id else None
            return self.deps.context(str(run.id), incident_context(incident), run.requested_by)

    # -- execute -----------------------------------------------------------------------------
    def execute(self, run_id: int, *, worker: str) -> None:
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = _load(session, run_id)
            if run is None or run.status != RunStatus.APPROVED.value:
                return  # already taken, decided or finished: executing is idempotent
            spec = self.deps.spec(run.runbook_id)
            problem = _budget_problem(session, spec, run.target, now, exclude=run.id)
            if problem:
                transition(session, run, RunStatus.REJECTED, now=now, reason=problem)
                escalate(session, self.deps, run, problem, now)
                self.deps.notify(session, run.id, "rejected")
                return
            transition(session, run, RunStatus.RUNNING, now=now)
            run.started_at = run.started_at or now
            run.in_flight = "acting"
            run.attempts += 1
            run.claimed_by = worker
            run.claimed_until = now + spec.timeout + timedelta(minutes=5)
            self.deps.notify(session, run.id, "running")
            snapshot = (
                run.id,
                run.runbook_id,
                run.target,
                dict(run.params or {}),
                run.incident_id,
                run.requested_by,
            )
        self._act(snapshot)

    def _act(self, snapshot: tuple[int, str, str, dict[str, Any], int | None, str]) -> None:
        run_id, runbook_id, target_raw, params_raw, incident_id, requested_by = snapshot
        spec = self.deps.spec(runbook_id)
        target, params = parse_for(spec, target_raw, params_raw)
        with self.deps.store.sessions() as session:
            incident = incident_context(session.get(Incident, incident_id)) if incident_id else None
        ctx = self.deps.context(str(run_id), incident, requested_by)
        timed_out = False
        try:
            result = _call_with_timeout(
                lambda: spec.act(ctx, target, params), timeout=spec.timeout.total_seconds()
            )
        except RunTimedOut as exc:
            result, timed_out = RunResult.failed(str(exc)), True
        except Exception as exc:
            log.error("runbook raised", run_id=run_id, runbook=runbook_id, error=str(exc), exc_info=True)
            result = RunResult.failed(f"runbook error: {exc.__class__.__name__}: {exc}")
        self._store_result(run_id, result, timed_out)

    def _store_result(self, run_id: int, result: RunResult, timed_out: bool) -> None:
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = _load(session, run_id)
            if run is None or run.status != RunStatus.RUNNING.value:
                return
            run.result = result_to_json(result)
            run.in_flight = ""
            if timed_out:
                transition(session, run, RunStatus.TIMED_OUT, now=now, reason=result.reason)
                escalate(session, self.deps, run, f"timed out: {result.reason}", now)
            elif result.outcome is Outcome.FAILED:
                transition(session, run, RunStatus.FAILED, now=now, reason=result.reason)
                escalate(session, self.deps, run, f"failed: {result.reason}", now)
            elif result.outcome is Outcome.NOOP:
                transition(session, run, RunStatus.SUCCEEDED, now=now, reason=f"no change: {result.reason}")
            else:
                run.acted_at = now
                self._start_verifying(session, run, now, reason=result.reason)
            self.deps.notify(session, run.id, run.status)

    def _start_verifying(self, session: Session, run: RunbookRun, now: datetime, reason: str) -> None:
        settings = self.deps.settings.runbooks
        transition(session, run, RunStatus.VERIFYING, now=now, reason=reason)
        run.verify_deadline = now + timedelta(minutes=settings.verify_timeout_minutes)
        run.claimed_by = None
        run.claimed_until = None
        enqueue(
            session,
            kind="run.verify",
            payload={"run_id": run.id},
            now=now,
            run_after=now + timedelta(seconds=settings.verify_poll_seconds),
        )

    # -- verify ------------------------------------------------------------------------------
    def verify(self, run_id: int) -> None:
        with self.deps.store.sessions() as session:
            run = session.get(RunbookRun, run_id)
            if run is None or run.status != RunStatus.VERIFYING.value:
                return
            spec, target, params = self._spec_target_params(run)
            result = result_from_json(dict(run.result or {}))
            incident = session.get(Incident, run.incident_id) if run.incident_id else None
            incident_resolved = incident is None or incident.status == "resolved"
            threshold = incident.anomaly_threshold if incident else None
        ctx = self._context(run)
        status = VerifyStatus.SUCCEEDED
        if spec.verify is not None:
            try:
                status = spec.verify(ctx, target, params, result)
            except IntegrationError as exc:
                status = VerifyStatus.PENDING if exc.retryable else VerifyStatus.FAILED
        score_fell = False
        if not incident_resolved and run.incident_id and self.deps.score_now and threshold is not None:
            score = self.deps.score_now(run.incident_id)
            score_fell = score is not None and score < threshold
            log.info("verification rescored the incident", run_id=run_id, score=score, threshold=threshold)
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = _load(session, run_id)
            if run is None or run.status != RunStatus.VERIFYING.value:
                return
            effective = status is VerifyStatus.SUCCEEDED and (
                spec.resolves_incident or incident_resolved or score_fell
            )
            if effective:
                why = ("verified" if spec.verify else "acted") + (
                    "; the incident resolved"
                    if incident_resolved and run.incident_id
                    else "; the anomaly score fell"
                    if score_fell
                    else ""
                )
                transition(session, run, RunStatus.SUCCEEDED, now=now, reason=why)
                if spec.resolves_incident and run.incident_id and not incident_resolved:
                    resolve_incident(
                        session,
                        run.incident_id,
                        actor=f"run:{run.id}",
                        now=now,
                        reason=f"{spec.id} verified the fix",
                    )
                self.deps.notify(session, run.id, "succeeded")
                return
            deadline = run.verify_deadline or now
            if status is VerifyStatus.FAILED or now >= deadline:
                why = (
                    "verification failed"
                    if status is VerifyStatus.FAILED
                    else "the alert kept firing until the verification deadline"
                )
                transition(session, run, RunStatus.INEFFECTIVE, now=now, reason=why)
                enqueue(
                    session,
                    kind="run.rollback",
                    payload={"run_id": run.id},
                    now=now,
                    dedupe_key=f"run.rollback:{run.id}",
                )
                escalate(session, self.deps, run, f"ineffective: {why}", now)
                self.deps.notify(session, run.id, "ineffective")
                return
            enqueue(
                session,
                kind="run.verify",
                payload={"run_id": run.id},
                now=now,
                run_after=min(
                    deadline, now + timedelta(seconds=self.deps.settings.runbooks.verify_poll_seconds)
                ),
            )

    def rollback(self, run_id: int) -> None:
        with self.deps.store.sessions() as session:
            run = session.get(RunbookRun, run_id)
            if (
                run is None
                or run.status != RunStatus.INEFFECTIVE.value
                or (run.result or {}).get("rolled_back")
            ):
                return
            spec, target, params = self._spec_target_params(run)
            result = result_from_json(dict(run.result or {}))
        if spec.rollback is None:
            return
        rolled = spec.rollback(self._context(run), target, params, result)
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = _load(session, run_id)
            if run is None:
                return
            run.result = {
                **(run.result or {}),
                "rolled_back": rolled.outcome.value,
                "rollback": result_to_json(rolled),
            }
            from bot.audit import audit

            audit(
                session,
                at=now,
                actor="system",
                subject=f"run:{run.id}",
                action="run.rolled_back",
                details={"outcome": rolled.outcome.value, "reason": rolled.reason},
            )
            self.deps.notify(session, run.id, "rolled_back")

    # -- crash recovery ----------------------------------------------------------------------
    def reconcile_interrupted(self) -> int:
        """Runs left `running` by a dead process: look at the target before repeating anything."""
        now = self.deps.clock()
        with self.deps.store.sessions() as session:
            stuck = session.scalars(
                select(RunbookRun.id).where(
                    RunbookRun.status == RunStatus.RUNNING.value,
                    or_(RunbookRun.claimed_until.is_(None), RunbookRun.claimed_until < now),
                )
            ).all()
        for run_id in stuck:
            self._reconcile(run_id)
        return len(stuck)

    def _reconcile(self, run_id: int) -> None:
        with self.deps.store.sessions() as session:
            run = session.get(RunbookRun, run_id)
            if run is None or run.status != RunStatus.RUNNING.value:
                return
            spec, target, params = self._spec_target_params(run)
            started_at = run.started_at or run.created_at
        if spec.idempotent or spec.reconcile is None:
            decision = ReconcileDecision.NOT_APPLIED
        else:
            try:
                decision = spec.reconcile(self._context(run), target, params, started_at)
            except IntegrationError:
                decision = ReconcileDecision.UNKNOWN
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = _load(session, run_id)
            if run is None or run.status != RunStatus.RUNNING.value:
                return
            details = {"decision": decision.value}
            if decision is ReconcileDecision.ALREADY_APPLIED:
                run.result = result_to_json(
                    RunResult.changed("applied before a crash; found by reconciliation")
                )
                run.acted_at = now
                run.in_flight = ""
                self._start_verifying(session, run, now, reason="reconciled: the action had been applied")
            elif decision is ReconcileDecision.NOT_APPLIED:
                run.in_flight = ""
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
                escalate(session, self.deps, run, reason, now)
            self.deps.notify(session, run.id, run.status)
