"""The engine's face to entry points (CLI, API, Slack, pipeline) and to the job runner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.audit import audit
from bot.engine.approvals import (
    DecisionOutcome,
    Vote,
    approval_for_run,
    approver_rule,
    expire,
    get_approval,
    record_vote,
)
from bot.engine.deps import EngineDeps
from bot.engine.execution import Executor
from bot.engine.requests import RequestOutcome, RunRequest, escalate, preview, request_run
from bot.engine.states import RunStatus, transition
from bot.errors import ApprovalError, ConductorError, InvalidTransition, NotFound
from bot.job_runner import JobRunner
from bot.jobs import ClaimedJob, enqueue
from bot.roles import Principal
from bot.runbook_kit.spec import Plan
from bot.store.models import RunbookRun


@dataclass(frozen=True)
class Decided:
    approval_id: int
    run_id: int
    approval_status: str
    run_status: str
    approvals: int
    quorum: int


class Engine:
    def __init__(self, deps: EngineDeps) -> None:
        self.deps = deps
        self.executor = Executor(deps)
        from bot.engine.policy_hooks import policy_hook

        deps.on_change.append(policy_hook(deps))

    # -- requests ----------------------------------------------------------------------------
    def preview(
        self, runbook_id: str, target: str, params: dict[str, Any], *, requested_by: str = "cli"
    ) -> Plan:
        return preview(self.deps, runbook_id, target, params, requested_by=requested_by)

    def request(self, req: RunRequest) -> RequestOutcome:
        return request_run(self.deps, req)

    def run_suggestion(self, run_id: int, *, requested_by: str) -> RequestOutcome:
        """ "Run it" on a suggested run: request the same run as `requested_by` asked for it (the
        runbook's approval policy applies; the suggestion itself never acts)."""
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            run = session.get(RunbookRun, run_id, with_for_update=True)
            if run is None:
                raise NotFound(f"no run {run_id}")
            if run.status != RunStatus.SUGGESTED.value:
                raise InvalidTransition(f"run {run_id} is {run.status}, not a suggestion")
            if (run.policy or {}).get("run_as"):
                raise InvalidTransition(f"suggestion {run_id} was already run as run {run.policy['run_as']}")
            req = RunRequest(
                run.runbook_id,
                run.target,
                dict(run.params or {}),
                incident_id=run.incident_id,
                requested_by=requested_by,
                manual=True,
                service=run.service,
                policy={"from_suggestion": run.id},
            )
            run.policy = {**(run.policy or {}), "run_as": "pending", "run_by": requested_by}
        try:
            outcome = request_run(self.deps, req)
        except Exception:
            with self.deps.store.transaction() as session:
                run = session.get(RunbookRun, run_id)
                if run is not None:
                    run.policy = {
                        k: v for k, v in (run.policy or {}).items() if k not in ("run_as", "run_by")
                    }
            raise
        with self.deps.store.transaction() as session:
            run = session.get(RunbookRun, run_id)
            if run is not None:
                run.policy = {**(run.policy or {}), "run_as": outcome.run_id or 0, "run_by": requested_by}
                audit(
                    session,
                    at=now,
                    actor=requested_by,
                    subject=f"run:{run_id}",
                    action="run.suggestion_taken",
                    details={"run_id": outcome.run_id, "status": outcome.status, "reason": outcome.reason},
                )
        return outcome

    def dequeue(self) -> list[int]:
        """A pass over the runs queued by a cap (also a job: runs.dequeue)."""
        from bot.engine.cap_queue import dequeue_pass

        return dequeue_pass(self.deps)

    # -- approvals ---------------------------------------------------------------------------
    def decide(self, approval_id: int, *, principal: Principal, vote: Vote, reason: str = "") -> Decided:
        """Approve or deny as `principal` (from `bot.access.grants`: the Slack user, the API
        token or the person its trusted proxy names, the CLI user). Raises ApprovalExpired,
        AlreadyDecided, ApproverNotAllowed, NotFound. A refusal is audited and committed even
        though it raises.
        """
        now = self.deps.clock()
        session = self.deps.store.sessions()
        try:
            approval = get_approval(session, approval_id, for_update=True)
            run = session.get(RunbookRun, approval.run_id)
            if run is None:
                raise NotFound(f"approval {approval_id} has no run")
            spec = self.deps.spec(run.runbook_id)
            rule = approver_rule(self.deps.settings.approvals, spec.id, spec.risk)
            outcome = record_vote(
                session, approval, run, rule=rule, principal=principal, vote=vote, reason=reason, now=now
            )
            self._apply(session, outcome, user=principal.actor, reason=reason)
            decided = Decided(
                approval.id, run.id, approval.status, run.status, outcome.approvals_so_far, approval.quorum
            )
            session.commit()
            return decided
        except ApprovalError:
            session.commit()  # the refusal's audit record stays; nothing else changed
            raise
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()

    def _apply(self, session: Session, outcome: DecisionOutcome, *, user: str, reason: str) -> None:
        now = self.deps.clock()
        run, approval = outcome.run, outcome.approval
        if not outcome.final:
            self.deps.notify(session, run.id, "approval_vote")
            return
        if approval.status == "approved":
            transition(
                session,
                run,
                RunStatus.APPROVED,
                now=now,
                actor=user,
                reason=f"approved by {approval.decided_by}",
            )
            enqueue(
                session,
                kind="run.execute",
                payload={"run_id": run.id},
                now=now,
                dedupe_key=f"run.execute:{run.id}:1",
            )
        else:
            transition(
                session,
                run,
                RunStatus.REJECTED,
                now=now,
                actor=user,
                reason=f"denied by {user}" + (f": {reason}" if reason else ""),
            )
        self.deps.notify(session, run.id, approval.status)

    def approval_id_for_run(self, run_id: int) -> int:
        with self.deps.store.sessions() as session:
            approval = approval_for_run(session, run_id)
            if approval is None:
                raise NotFound(f"run {run_id} has no approval")
            return approval.id

    def expire_approval(self, approval_id: int) -> bool:
        now = self.deps.clock()
        with self.deps.store.transaction() as session:
            approval = get_approval(session, approval_id, for_update=True)
            if not expire(session, approval, now=now):
                return False
            run = session.get(RunbookRun, approval.run_id)
            if run is not None and run.status == RunStatus.AWAITING_APPROVAL.value:
                transition(session, run, RunStatus.EXPIRED, now=now, reason="nobody approved in time")
                escalate(session, self.deps, run, "approval expired: nobody approved in time", now)
                self.deps.notify(session, run.id, "expired")
            return True

    # -- jobs --------------------------------------------------------------------------------
    def register_jobs(self, runner: JobRunner) -> None:
        runner.register(
            "run.execute", lambda job: self.executor.execute(_run_id(job), worker=f"job:{job.id}")
        )
        runner.register("run.verify", lambda job: self.executor.verify(_run_id(job)))
        runner.register("run.rollback", lambda job: self.executor.rollback(_run_id(job)))
        runner.register("approval.expire", lambda job: self._expire_job(job))
        runner.register("runs.dequeue", self._dequeue_job)

    def _dequeue_job(self, job: ClaimedJob) -> None:
        self.dequeue()

    def _expire_job(self, job: ClaimedJob) -> None:
        approval_id = int(job.payload["approval_id"])
        with self.deps.store.sessions() as session:
            approval = get_approval(session, approval_id)
            status, expires_at = approval.status, approval.expires_at
        if status != "pending":
            return
        if self.deps.clock() < expires_at:
            raise _NotYet(f"approval {approval_id} expires at {expires_at.isoformat()}")
        self.expire_approval(approval_id)


class _NotYet(ConductorError):
    """The job ran early (clock skew between replicas); it is retried later."""


def _run_id(job: ClaimedJob) -> int:
    return int(job.payload["run_id"])
