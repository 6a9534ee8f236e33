"""JSON and text views of runs, plans and approvals (CLI, API, Slack, Jira)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.runbook_kit.spec import Plan
from bot.store.models import Approval, ApprovalVote, RunbookRun


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def plan_lines(plan: Plan) -> list[str]:
    lines = [f"plan: {plan.summary}"]
    for call in plan.calls:
        change = (
            f" ({call.before!r} -> {call.after!r})"
            if call.before is not None or call.after is not None
            else ""
        )
        lines.append(f"  - {call.system}.{call.operation}{change} {call.description}".rstrip())
    if plan.is_noop:
        lines.append(f"  (no calls: {plan.verdict})")
    for key, value in plan.findings.items():
        lines.append(f"  {key}: {value}")
    return lines


def run_json(run: RunbookRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "runbook": run.runbook_id,
        "target": run.target,
        "params": run.params,
        "incident_id": run.incident_id,
        "status": run.status,
        "reason": run.reason,
        "requested_by": run.requested_by,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "acted_at": _iso(run.acted_at),
        "finished_at": _iso(run.finished_at),
        "plan": run.plan,
        "result": run.result,
        "attempts": run.attempts,
        "service": run.service,
        "policy": run.policy or {},
    }


def approval_json(session: Session, approval: Approval) -> dict[str, Any]:
    run = session.get(RunbookRun, approval.run_id)
    approvals = session.scalar(
        select(func.count())
        .select_from(ApprovalVote)
        .where(ApprovalVote.approval_id == approval.id, ApprovalVote.decision == "approve")
    )
    return {
        "id": approval.id,
        "run_id": approval.run_id,
        "runbook": run.runbook_id if run else "",
        "target": run.target if run else "",
        "status": approval.status,
        "quorum": approval.quorum,
        "approvals": int(approvals or 0),
        "requested_by": approval.requested_by,
        "created_at": _iso(approval.created_at),
        "expires_at": _iso(approval.expires_at),
        "decided_at": _iso(approval.decided_at),
        "decided_by": approval.decided_by or None,
        "reason": approval.reason,
    }
