"""The engine's face to entry points (CLI, API, Slack, pipeline) and to the job runner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

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
from bot.errors import ApprovalError, ConductorError, NotFound
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

    # -- requests ----------------------------------------------------------------------------
    def preview(
        self, runbook_id: str, target: str, params: dict[str, Any], *, requested_by: str = "cli"
    ) -> Plan:
        return preview(self.deps, runbook_id, target, params, requested_by=requested_by)

    def request(self, req: RunRequest) -> RequestOutcome:
        return request_run(self.deps, req)

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
