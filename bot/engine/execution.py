"""Running an approved run: act (once, with a timeout), verify, roll back.

Stage: act.
Takes: an approved run (the `run.execute` job; `run.verify` and `run.rollback` follow).
Gives: the run's result and final state — succeeded, ineffective (rolled back), failed or
  timed out — with an escalation when a human must look.

Crash safety: the run is marked `running` with `in_flight="acting"` and committed *before*
the call; the result is stored after it. A run found in that state at start-up is reconciled
against the target's real state before anything is repeated (`bot.engine.recovery`).

Timeouts: an action that outlives its runbook's timeout cannot be stopped, so its run becomes
`unknown` and keeps the target's lock until the action has really ended (`bot.engine.action_thread`);
only then is it settled as `timed_out` and the target released.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from bot.engine.action_thread import AbandonedActions, ActionEnded, ActionThread
from bot.engine.cap_queue import admit_or_queue
from bot.engine.deps import EngineDeps, load_incident_context, parse_for
from bot.engine.requests import budget_problem, escalate
from bot.engine.serialize import result_from_json, result_to_json
from bot.engine.states import RunStatus, load_run, transition
from bot.errors import IntegrationError
from bot.incidents.service import resolve as resolve_incident
from bot.jobs import enqueue
from bot.logs import get_logger
from bot.runbook_kit.spec import Outcome, RunbookSpec, RunResult, VerifyStatus
from bot.runbook_kit.targets import Target
from bot.store.models import Incident, RunbookRun

log = get_logger(__name__)


def result_of(ended: ActionEnded, *, run_id: int, runbook_id: str) -> RunResult:
    """The run's result from how its action ended. Never retried here: each outside call has
    its one retry layer in its client (docs/retries.md), so a failure is the run's result."""
    if isinstance(ended.error, IntegrationError):
        return RunResult.failed(
            f"{ended.error.__class__.__name__}: {ended.error}", retryable=ended.error.retryable
        )
    if ended.error is not None:
        log.error(
            "runbook raised", run_id=run_id, runbook=runbook_id, error=str(ended.error), exc_info=ended.error
        )
        return RunResult.failed(f"runbook error: {ended.error.__class__.__name__}: {ended.error}")
    if ended.result is None:
        return RunResult.failed("runbook error: the action returned no result")
    return ended.result


class Executor:
    def __init__(self, deps: EngineDeps) -> None:
        self.deps = deps
        self.abandoned = AbandonedActions()  # timed-out actions still running in this process

    # -- helpers -----------------------------------------------------------------------------
    def spec_target_params(self, run: RunbookRun) -> tuple[RunbookSpec[Any], Target, BaseModel]:
        spec = self.deps.spec(run.runbook_id)
        target, params = parse_for(spec, run.target, dict(run.params or {}))
        return spec, target, params

    def context_for(self, run: RunbookRun) -> Any:
        with self.deps.store.sessions() as session:
            incident = load_incident_context(session, run.incident_id)
            return self.deps.context(str(run.id), incident, run.requested_by)

    # -- execute -----------------------------------------------------------------------------
    def execute(self, run_id: int, *, worker: str) -> None:
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = load_run(session, run_id)
            if run is None or run.status != RunStatus.APPROVED.value:
                return  # already taken, decided or finished: executing is idempotent
            spec = self.deps.spec(run.runbook_id)
            problem = budget_problem(session, spec, run.target, now, exclude=run.id)
            if problem is not None:
                _, why = problem
                transition(session, run, RunStatus.REJECTED, now=now, reason=why)
                escalate(session, self.deps, run, why, now)
                self.deps.notify(session, run.id, "rejected")
                return
            if not admit_or_queue(session, self.deps, run, now):
                return  # over a blast-radius cap: queued until a slot frees
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
            incident = load_incident_context(session, incident_id)
        ctx = self.deps.context(str(run_id), incident, requested_by)
        action = ActionThread(lambda: spec.act(ctx, target, params), name=f"runbook-{run_id}").start()
        timeout = spec.timeout.total_seconds()
        if action.wait(timeout):
            self._store_result(run_id, result_of(action.ended(), run_id=run_id, runbook_id=runbook_id))
        else:
            self._abandon(run_id, action, timeout)

    def _store_result(self, run_id: int, result: RunResult) -> None:
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = load_run(session, run_id)
            if run is None or run.status != RunStatus.RUNNING.value:
                return
            run.result = result_to_json(result)
            run.in_flight = ""
            if result.outcome is Outcome.FAILED:
                transition(session, run, RunStatus.FAILED, now=now, reason=result.reason)
                escalate(session, self.deps, run, f"failed: {result.reason}", now)
            elif result.outcome is Outcome.NOOP:
                transition(session, run, RunStatus.SUCCEEDED, now=now, reason=f"no change: {result.reason}")
            elif self.deps.spec(run.runbook_id).notification:
                run.acted_at = now  # sent: done (a notification fixes nothing, so nothing to verify)
                transition(session, run, RunStatus.SUCCEEDED, now=now, reason=result.reason)
            else:
                run.acted_at = now
                self.start_verifying(session, run, now, reason=result.reason)
            self.deps.notify(session, run.id, run.status)

    # -- timed out: keep the target until the action has really ended --------------------------
    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self.deps.settings.workers.claim_timeout_seconds)

    def _abandon(self, run_id: int, action: ActionThread, timeout: float) -> None:
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = load_run(session, run_id)
            if run is None or run.status != RunStatus.RUNNING.value:
                return
            reason = (
                f"timed out after {timeout:g}s; the action is still running, "
                f"so {run.target} stays locked until it ends"
            )
            transition(session, run, RunStatus.UNKNOWN, now=now, reason=reason)
            run.in_flight = "abandoned"
            # host:pid, so a restart on this host sees at once that the action died with us
            run.claimed_by = f"{socket.gethostname()}:{os.getpid()}/abandoned"
            run.claimed_until = now + self._lease
            escalate(session, self.deps, run, reason, now)
            self.deps.notify(session, run.id, RunStatus.UNKNOWN.value)
        self.abandoned.watch(
            action,
            run_id=run_id,
            heartbeat=self._lease.total_seconds() / 3,
            renew=lambda: self._renew_claim(run_id),
            settle=lambda ended: self._settle(run_id, ended),
        )

    def _renew_claim(self, run_id: int) -> None:
        """The abandoned action is alive in this process: no replica may reconcile it."""
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = load_run(session, run_id)
            if run is not None and run.status == RunStatus.UNKNOWN.value:
                run.claimed_until = now + self._lease

    def _settle(self, run_id: int, ended: ActionEnded) -> None:
        """The timed-out action has ended: record what it did, then release the target."""
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = load_run(session, run_id)
            if run is None or run.status != RunStatus.UNKNOWN.value:
                return
            result = result_of(ended, run_id=run_id, runbook_id=run.runbook_id)
            run.result = result_to_json(result)
            if result.outcome is Outcome.CHANGED:
                run.acted_at = now  # it changed the target: it counts toward budget and cooldown
            why = f"timed out; the action ended afterwards ({result.outcome.value}: {result.reason})"
            transition(
                session, run, RunStatus.TIMED_OUT, now=now, reason=why, details={"late": result.outcome.value}
            )
            self.deps.notify(session, run.id, RunStatus.TIMED_OUT.value)

    def start_verifying(self, session: Session, run: RunbookRun, now: datetime, reason: str) -> None:
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
            spec, target, params = self.spec_target_params(run)
            result = result_from_json(dict(run.result or {}))
            incident = session.get(Incident, run.incident_id) if run.incident_id else None
            incident_resolved = incident is None or incident.status == "resolved"
            threshold = incident.anomaly_threshold if incident else None
        ctx = self.context_for(run)
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
            run = load_run(session, run_id)
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
            spec, target, params = self.spec_target_params(run)
            result = result_from_json(dict(run.result or {}))
        if spec.rollback is None:
            return
        try:  # once, like the action: a failure is recorded and escalated, not retried by the job
            rolled = spec.rollback(self.context_for(run), target, params, result)
        except IntegrationError as exc:
            rolled = RunResult.failed(f"{exc.__class__.__name__}: {exc}", retryable=exc.retryable)
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = load_run(session, run_id)
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
            if rolled.outcome is Outcome.FAILED:
                escalate(session, self.deps, run, f"rollback failed: {rolled.reason}", now)
            self.deps.notify(session, run.id, "rolled_back")

    # -- crash recovery ----------------------------------------------------------------------
    def reconcile_interrupted(self) -> int:
        """Runs left `running` or `unknown` by a dead process: look at the target first."""
        from bot.engine.recovery import reconcile_interrupted

        return reconcile_interrupted(self)
