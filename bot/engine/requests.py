"""Asking for a run: plan it, take the target's lock, count budget and cooldown, gate it.

The lock is the database's: a run holds `active_target` (unique) until it is final, so two
triggers for one target — on one replica or several — produce one run. Budgets and cooldowns
are counted from stored runs while holding that lock, so they survive restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.config.rules import OnInsufficientData, RuleApproval, RuleMode
from bot.engine.approvals import approver_rule, request_approval
from bot.engine.deps import EngineDeps, load_incident_context, parse_for
from bot.engine.gate import Anomaly, AnomalyStatus, Decision, GateDecision, GateInput, GateReason, decide
from bot.engine.policy_gate import gate_with_policies
from bot.engine.serialize import plan_to_json
from bot.engine.states import FINAL, RunStatus, transition
from bot.errors import IntegrationError
from bot.jobs import enqueue
from bot.reasons import ReasonCode
from bot.runbook_kit.spec import Plan, RunbookSpec
from bot.store.models import RunbookRun


@dataclass(frozen=True)
class RunRequest:
    runbook_id: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    incident_id: int | None = None
    requested_by: str = "system"
    manual: bool = False
    rule_approval: RuleApproval = "default"
    min_anomaly_score: float | None = None
    on_insufficient_data: OnInsufficientData = "approval"
    anomaly: Anomaly = field(default_factory=lambda: Anomaly(AnomalyStatus.NOT_SCORED))
    flapping: bool = False
    mode: RuleMode = "auto"  # the rule's autonomy level
    rule: str = ""  # the rule's name (automatic runs)
    service: str = ""  # default for runs without an incident; else the incident's `service` label
    policy: dict[str, Any] = field(default_factory=dict)  # notes kept on the run (e.g. from_suggestion)


@dataclass(frozen=True)
class RequestOutcome:
    decision: Decision
    reason: str
    run_id: int | None = None
    status: str | None = None
    approval_id: int | None = None
    plan: Plan | None = None
    blocked: BlockedBy | None = None  # the run was refused after the gate let it through
    gate: GateReason | None = None  # why the gate decided as it did


class BlockedBy(ReasonCode):
    """Why a run the gate let through was refused; the message starts with the code."""

    LOCK = "target_locked", "target_locked: run {holder} is in flight on {target}"
    BUDGET = (
        "budget_exhausted",
        "budget_exhausted: {used} of {max_runs} runs on {target} in the last {window}",
    )
    COOLDOWN = "cooldown", "cooldown: last run on {target} finished {ago} ago (cooldown {cooldown})"
    NO_APPROVERS = (
        "no_approvers",
        "no_approvers: {gate}, but nobody is configured to approve {runbook} "
        '(add [approvals.approvers."{runbook}"] or ."risk:{risk}")',
    )
    PLAN_FAILED = "plan_failed", "{summary}"


def preview(
    deps: EngineDeps,
    runbook_id: str,
    target: str,
    params: dict[str, Any],
    *,
    incident_id: int | None = None,
    requested_by: str = "cli",
) -> Plan:
    """The dry run: the plan, computed read-only. Nothing is stored."""
    spec = deps.spec(runbook_id)
    parsed, model = parse_for(spec, target, params)
    incident = None
    if incident_id is not None:
        with deps.store.sessions() as session:
            incident = load_incident_context(session, incident_id)
    return spec.plan(deps.context("dry-run", incident, requested_by), parsed, model)


def budget_problem(
    session: Session, spec: RunbookSpec[Any], target: str, now: datetime, exclude: int
) -> tuple[BlockedBy, str] | None:
    """Whether the runbook's budget or cooldown refuses another run on `target` now, and the sentence why."""
    if spec.budget is not None:
        since = now - spec.budget.window
        used = (
            session.scalar(
                select(func.count())
                .select_from(RunbookRun)
                .where(
                    RunbookRun.runbook_id == spec.id,
                    RunbookRun.target == target,
                    RunbookRun.acted_at >= since,
                    RunbookRun.id != exclude,
                )
            )
            or 0
        )
        if used >= spec.budget.max_runs:
            return BlockedBy.BUDGET, BlockedBy.BUDGET.say(
                used=used, max_runs=spec.budget.max_runs, target=target, window=spec.budget.window
            )
    if spec.cooldown > timedelta(0):
        last = session.scalar(
            select(func.max(RunbookRun.finished_at)).where(
                RunbookRun.runbook_id == spec.id,
                RunbookRun.target == target,
                RunbookRun.acted_at.is_not(None),
                RunbookRun.id != exclude,
            )
        )
        if last is not None and now - last < spec.cooldown:
            ago = now - last
            return BlockedBy.COOLDOWN, BlockedBy.COOLDOWN.say(target=target, ago=ago, cooldown=spec.cooldown)
    return None


def escalate(session: Session, deps: EngineDeps, run: RunbookRun, reason: str, now: datetime) -> None:
    """A human must look: page (reporting delivers it) and record why."""
    audit(
        session,
        at=now,
        actor="system",
        subject=f"run:{run.id}",
        action="run.escalated",
        details={"reason": reason, "incident_id": run.incident_id},
    )
    enqueue(
        session,
        kind="escalate",
        payload={"run_id": run.id, "incident_id": run.incident_id, "reason": reason},
        now=now,
        dedupe_key=f"escalate:run:{run.id}",
    )


def _new_run(req: RunRequest, spec: RunbookSpec[Any], plan: Plan, now: datetime, active: bool) -> RunbookRun:
    return RunbookRun(
        runbook_id=spec.id,
        target=req.target,
        active_target=req.target if active else None,
        params=req.params,
        incident_id=req.incident_id,
        status=RunStatus.PLANNED.value,
        reason="",
        requested_by=req.requested_by,
        created_at=now,
        updated_at=now,
        plan=plan_to_json(plan),
        result={},
        attempts=0,
        in_flight="",
        service=req.service,
        policy=dict(req.policy),
    )


def request_run(deps: EngineDeps, req: RunRequest) -> RequestOutcome:
    spec = deps.spec(req.runbook_id)
    parsed, model = parse_for(spec, req.target, req.params)
    incident = None
    if req.incident_id is not None:
        with deps.store.sessions() as session:
            incident = load_incident_context(session, req.incident_id)
    service = (incident.labels.get("service", "") if incident else "") or req.service
    base = decide(
        GateInput(
            risk=spec.risk,
            policy=spec.approval,
            rule_approval=req.rule_approval,
            min_anomaly_score=req.min_anomaly_score,
            on_insufficient_data=req.on_insufficient_data,
            anomaly=req.anomaly,
            flapping=req.flapping,
            manual=req.manual,
        )
    )
    with deps.store.sessions() as session:
        gate, notes = gate_with_policies(
            session,
            deps.settings,
            base,
            runbook=spec.id,
            target=req.target,
            service=service,
            mode=req.mode,
            manual=req.manual,
            rule=req.rule,
            notes=req.policy,
            now=deps.clock(),
        )
    if gate.decision is Decision.NO_ACTION:
        return RequestOutcome(gate.decision, gate.reason, gate=gate.code)
    # Planning reads the target's real state; it happens outside any transaction.
    try:
        plan = spec.plan(deps.context("plan", incident, req.requested_by), parsed, model)
    except IntegrationError as exc:
        plan = Plan(summary=f"planning failed: {exc}", verdict="plan_failed")
    now = deps.clock()
    with deps.store.transaction() as session:
        return _persist(session, deps, replace(req, service=service, policy=notes), spec, plan, gate, now)


def _persist(
    session: Session,
    deps: EngineDeps,
    req: RunRequest,
    spec: RunbookSpec[Any],
    plan: Plan,
    gate: GateDecision,
    now: datetime,
) -> RequestOutcome:
    run = _new_run(req, spec, plan, now, active=True)
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return _blocked_by_lock(session, deps, req, spec, plan, now)
    audit(
        session,
        at=now,
        actor=req.requested_by,
        subject=f"run:{run.id}",
        action="run.planned",
        details={
            "runbook": spec.id,
            "target": req.target,
            "params": req.params,
            "plan": plan.summary,
            "incident_id": req.incident_id,
            "gate": gate.decision.value,
            "gate_reason": gate.reason,
            "gate_code": gate.code.value,
        },
    )
    if plan.verdict == "plan_failed":
        transition(session, run, RunStatus.REJECTED, now=now, reason=plan.summary)
        escalate(session, deps, run, plan.summary, now)
        deps.notify(session, run.id, "rejected")
        return RequestOutcome(
            gate.decision,
            plan.summary,
            run.id,
            run.status,
            plan=plan,
            blocked=BlockedBy.PLAN_FAILED,
            gate=gate.code,
        )
    if gate.decision is Decision.SUGGEST and not plan.is_noop:
        transition(session, run, RunStatus.SUGGESTED, now=now, actor=req.requested_by, reason=gate.reason)
        deps.notify(session, run.id, RunStatus.SUGGESTED.value)
        return RequestOutcome(gate.decision, gate.reason, run.id, run.status, plan=plan, gate=gate.code)
    problem = budget_problem(session, spec, req.target, now, exclude=run.id)
    if problem is not None:
        blocked, why = problem
        transition(session, run, RunStatus.REJECTED, now=now, reason=why)
        escalate(session, deps, run, why, now)
        deps.notify(session, run.id, "rejected")
        return RequestOutcome(
            gate.decision, why, run.id, run.status, plan=plan, blocked=blocked, gate=gate.code
        )
    if plan.is_noop:
        # Nothing to change (the diagnosis says so): the run is over, its verdict is the answer.
        run.result = {
            "outcome": "noop",
            "reason": plan.summary,
            "details": {"verdict": plan.verdict, **plan.findings},
        }
        transition(session, run, RunStatus.SUCCEEDED, now=now, reason=f"{plan.verdict}: {plan.summary}")
        deps.notify(session, run.id, "noop")
        return RequestOutcome(gate.decision, gate.reason, run.id, run.status, plan=plan, gate=gate.code)
    if gate.decision is Decision.NEEDS_APPROVAL:
        rule = approver_rule(deps.settings.approvals, spec.id, spec.risk)
        if not rule.configured:  # nobody could ever approve it: refuse now, fail closed
            why = BlockedBy.NO_APPROVERS.say(gate=gate.reason, runbook=spec.id, risk=spec.risk.value)
            transition(session, run, RunStatus.REJECTED, now=now, reason=why)
            escalate(session, deps, run, why, now)
            deps.notify(session, run.id, "rejected")
            return RequestOutcome(
                gate.decision,
                why,
                run.id,
                run.status,
                plan=plan,
                blocked=BlockedBy.NO_APPROVERS,
                gate=gate.code,
            )
        transition(
            session, run, RunStatus.AWAITING_APPROVAL, now=now, actor=req.requested_by, reason=gate.reason
        )
        approval = request_approval(
            session,
            run,
            quorum=rule.quorum,
            requested_by=req.requested_by,
            expires_in=timedelta(minutes=deps.settings.approvals.expiry_minutes),
            now=now,
        )
        enqueue(
            session,
            kind="approval.expire",
            payload={"approval_id": approval.id},
            now=now,
            run_after=approval.expires_at,
            dedupe_key=f"approval.expire:{approval.id}",
        )
        deps.notify(session, run.id, "awaiting_approval")
        return RequestOutcome(
            gate.decision, gate.reason, run.id, run.status, approval.id, plan, gate=gate.code
        )
    transition(session, run, RunStatus.APPROVED, now=now, actor="system", reason=gate.reason)
    enqueue(
        session, kind="run.execute", payload={"run_id": run.id}, now=now, dedupe_key=f"run.execute:{run.id}:1"
    )
    deps.notify(session, run.id, "approved")
    return RequestOutcome(gate.decision, gate.reason, run.id, run.status, plan=plan, gate=gate.code)


def _blocked_by_lock(
    session: Session, deps: EngineDeps, req: RunRequest, spec: RunbookSpec[Any], plan: Plan, now: datetime
) -> RequestOutcome:
    holder = session.scalars(select(RunbookRun).where(RunbookRun.active_target == req.target)).first()
    reason = BlockedBy.LOCK.say(holder=holder.id if holder else "?", target=req.target)
    run = _new_run(req, spec, plan, now, active=False)
    session.add(run)
    session.flush()
    audit(
        session,
        at=now,
        actor=req.requested_by,
        subject=f"run:{run.id}",
        action="run.planned",
        details={"runbook": spec.id, "target": req.target, "incident_id": req.incident_id},
    )
    transition(session, run, RunStatus.REJECTED, now=now, reason=reason)
    # The same incident triggering twice is not news; another incident hitting a busy target is.
    if holder is None or holder.incident_id != req.incident_id:
        escalate(session, deps, run, reason, now)
    deps.notify(session, run.id, "rejected")
    return RequestOutcome(Decision.NO_ACTION, reason, run.id, run.status, plan=plan, blocked=BlockedBy.LOCK)


def is_final(status: str) -> bool:
    return RunStatus(status) in FINAL
