"""Human approval of a run: allow-lists, groups, quorum, no self-approval, expiry.

Named failures: ApprovalExpired, AlreadyDecided, ApproverNotAllowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.config.rules import ApprovalSettings, ApproverSettings
from bot.errors import AlreadyDecided, ApprovalExpired, ApproverNotAllowed, NotFound
from bot.runbooks.spec import Risk
from bot.store.models import Approval, ApprovalVote, RunbookRun


class Vote(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


@dataclass(frozen=True)
class ApproverRule:
    users: frozenset[str]
    groups: frozenset[str]
    quorum: int
    configured: bool  # False: nobody configured, so any identified person but the requester may approve


def approver_rule(settings: ApprovalSettings, runbook_id: str, risk: Risk) -> ApproverRule:
    chosen: ApproverSettings | None = settings.approvers.get(runbook_id) or settings.approvers.get(
        f"risk:{risk.value}"
    )
    if chosen is None:
        return ApproverRule(frozenset(), frozenset(), 1, configured=False)
    return ApproverRule(frozenset(chosen.users), frozenset(chosen.groups), chosen.quorum, configured=True)


def identity(user: str) -> str:
    """One person, however the entry point spells them: `slack:U123` and `U123` are the same."""
    return user.removeprefix("slack:")


def user_groups(settings: ApprovalSettings, user: str) -> frozenset[str]:
    me = identity(user)
    return frozenset(
        group for group, members in settings.groups.items() if me in {identity(m) for m in members}
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


def check_allowed(rule: ApproverRule, *, user: str, groups: Iterable[str], requester: str) -> None:
    if identity(user) == identity(requester):
        raise ApproverNotAllowed(f"{user} requested this run and cannot approve it")
    if not user or user in ("system", "api"):
        raise ApproverNotAllowed("an approval needs an identified person")
    if not rule.configured:
        return
    if identity(user) in {identity(u) for u in rule.users} or rule.groups.intersection(groups):
        return
    raise ApproverNotAllowed(f"{user} is not an allowed approver for this run")


def record_vote(
    session: Session,
    approval: Approval,
    run: RunbookRun,
    *,
    rule: ApproverRule,
    user: str,
    groups: Iterable[str],
    vote: Vote,
    reason: str,
    now: datetime,
) -> DecisionOutcome:
    """Record one person's decision. Raises the named approval errors; audits refusals too."""
    subject = f"approval:{approval.id}"
    try:
        if approval.status != "pending":
            raise AlreadyDecided(f"approval {approval.id} is already {approval.status}")
        if now >= approval.expires_at:
            raise ApprovalExpired(f"approval {approval.id} expired at {approval.expires_at.isoformat()}")
        check_allowed(rule, user=user, groups=groups, requester=approval.requested_by)
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
            details={"vote": vote.value, "error": exc.__class__.__name__, "reason": str(exc)},
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
        details={"run_id": run.id, "reason": reason, "approvals": len(approvers), "quorum": approval.quorum},
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
