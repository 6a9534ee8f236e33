"""Human approval of a run: quorum, one vote per person, expiry; who may vote is decided by
`bot.access.policy.authorize` (approver role, the run's `[approvals]` entry, no self-approval,
nobody configured: refused).

Named failures: ApprovalExpired, AlreadyDecided, ApproverNotAllowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.access.policy import NO_APPROVERS, ApproverRule, Decide, Refused, authorize
from bot.audit import audit
from bot.config.rules import ApprovalSettings, ApproverSettings
from bot.errors import AlreadyDecided, ApprovalExpired, ApproverNotAllowed, NotFound
from bot.roles import Principal, Role, identity
from bot.runbook_kit.spec import Risk
from bot.store.models import Approval, ApprovalVote, RunbookRun


class Vote(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


def approver_rule(settings: ApprovalSettings, runbook_id: str, risk: Risk) -> ApproverRule:
    """The run's `[approvals.approvers]` entry: its runbook id, else its risk level, else none."""
    chosen: ApproverSettings | None = settings.approvers.get(runbook_id) or settings.approvers.get(
        f"risk:{risk.value}"
    )
    if chosen is None:
        return NO_APPROVERS
    return ApproverRule(
        frozenset(chosen.users),
        frozenset(chosen.groups),
        chosen.quorum,
        role=Role(chosen.role) if chosen.role else None,
    )


@dataclass(frozen=True)
class DecisionOutcome:
    approval: Approval
    run: RunbookRun
    final: bool  # the approval reached a decision (approved, or denied)
    approvals_so_far: int


def request_approval(
    session: Session, run: RunbookRun, *, quorum: int, requested_by: str, expires_in: timedelta, now: datetime
) -> Approval:
    approval = Approval(
        run_id=run.id,
        status="pending",
        quorum=quorum,
        requested_by=requested_by,
        created_at=now,
        expires_at=now + expires_in,
        decided_by="",
        reason="",
    )
    session.add(approval)
    session.flush()
    audit(
        session,
        at=now,
        actor=requested_by,
        subject=f"approval:{approval.id}",
        action="approval.requested",
        details={
            "run_id": run.id,
            "runbook": run.runbook_id,
            "target": run.target,
            "quorum": quorum,
            "expires_at": approval.expires_at.isoformat(),
        },
    )
    return approval


def get_approval(session: Session, approval_id: int, *, for_update: bool = False) -> Approval:
    query = select(Approval).where(Approval.id == approval_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    approval = session.scalars(query).first()
    if approval is None:
        raise NotFound(f"no approval {approval_id}")
    return approval


def approval_for_run(session: Session, run_id: int) -> Approval | None:
    return session.scalars(select(Approval).where(Approval.run_id == run_id)).first()


def record_vote(
    session: Session,
    approval: Approval,
    run: RunbookRun,
    *,
    rule: ApproverRule,
    principal: Principal,
    vote: Vote,
    reason: str,
    now: datetime,
) -> DecisionOutcome:
    """Record one person's decision. Raises the named approval errors; audits refusals too."""
    subject = f"approval:{approval.id}"
    user = principal.actor
    try:
        if approval.status != "pending":
            raise AlreadyDecided(f"approval {approval.id} is already {approval.status}")
        if now >= approval.expires_at:
            raise ApprovalExpired(f"approval {approval.id} expired at {approval.expires_at.isoformat()}")
        decision = authorize(principal, Decide(rule, approval.requested_by))
        if isinstance(decision, Refused):
            raise ApproverNotAllowed(decision.detail, reason=decision.reason.value)
        existing = next(
            (
                v
                for v in session.scalars(select(ApprovalVote).where(ApprovalVote.approval_id == approval.id))
                if identity(v.user) == identity(user)
            ),
            None,
        )
        if existing is not None:
            raise AlreadyDecided(f"{user} already voted {existing.decision} on approval {approval.id}")
    except (AlreadyDecided, ApprovalExpired, ApproverNotAllowed) as exc:
        audit(
            session,
            at=now,
            actor=user,
            subject=subject,
            action="approval.refused",
            details={
                "vote": vote.value,
                "error": exc.__class__.__name__,
                "reason": str(exc),
                **({"refusal": exc.reason} if isinstance(exc, ApproverNotAllowed) else {}),
                **({"via": principal.via} if principal.via else {}),
            },
        )
        raise
    session.add(ApprovalVote(approval_id=approval.id, user=user, decision=vote.value, at=now))
    session.flush()
    votes = session.scalars(select(ApprovalVote).where(ApprovalVote.approval_id == approval.id)).all()
    approvers = list(dict.fromkeys(identity(v.user) for v in votes if v.decision == Vote.APPROVE.value))
    audit(
        session,
        at=now,
        actor=user,
        subject=subject,
        action=f"approval.vote_{vote.value}",
        details={
            "run_id": run.id,
            "reason": reason,
            "approvals": len(approvers),
            "quorum": approval.quorum,
            **({"via": principal.via} if principal.via else {}),
        },
    )
    final = False
    if vote is Vote.DENY:
        approval.status = "denied"
        approval.decided_at = now
        approval.decided_by = user
        approval.reason = reason
        final = True
    elif len(approvers) >= approval.quorum:
        approval.status = "approved"
        approval.decided_at = now
        approval.decided_by = ",".join(approvers)
        final = True
    if final:
        audit(
            session,
            at=now,
            actor=user,
            subject=subject,
            action=f"approval.{approval.status}",
            details={"run_id": run.id, "by": approval.decided_by, "reason": reason},
        )
    return DecisionOutcome(approval=approval, run=run, final=final, approvals_so_far=len(approvers))


def expire(session: Session, approval: Approval, *, now: datetime) -> bool:
    """Mark a pending approval expired once its time is up; True if it changed."""
    if approval.status != "pending" or now < approval.expires_at:
        return False
    approval.status = "expired"
    approval.decided_at = now
    approval.decided_by = "system"
    audit(
        session,
        at=now,
        actor="system",
        subject=f"approval:{approval.id}",
        action="approval.expired",
        details={"run_id": approval.run_id},
    )
    return True
