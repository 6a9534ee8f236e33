"""Slack views (bot/slack/views.py) built from store rows.

The renderers never see the store; this module is the one place that knows both. Users are
stored as the actor strings of the audit log (`slack:U123`, `cli:alice`, `system`); views carry
bare Slack user ids so the renderers can mention them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.access.grants import is_slack_group
from bot.config.rules import ApprovalSettings
from bot.engine.approvals import approver_rule
from bot.engine.serialize import plan_from_json, result_from_json
from bot.runbook_kit.spec import Plan, Risk, RunbookRegistry, RunResult
from bot.slack.views import (
    AlertCounts,
    AnomalyView,
    ApprovalState,
    ApprovalView,
    FiredAlert,
    IncidentLinks,
    IncidentView,
    ProposalView,
    RepeatView,
    ResolutionView,
    RunSummary,
    RunView,
    Vote,
)
from bot.store.models import Alert, Approval, ApprovalVote, Incident, RunbookRun

SLACK_PREFIX = "slack:"
_FINISHED = {"succeeded", "failed", "timed_out", "ineffective"}


def display_user(user: str) -> str:
    """`slack:U123` -> `U123` (mentioned in messages); other actors unchanged."""
    return user.removeprefix(SLACK_PREFIX)


@dataclass(frozen=True)
class ViewContext:
    """What the builders need besides the store: approver rules, runbooks, links."""

    approvals: ApprovalSettings
    registry: RunbookRegistry
    jira_url: str | None = None


def incident_alerts(session: Session, incident_id: int) -> list[Alert]:
    return list(
        session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id)).all()
    )


def incident_service(alerts: list[Alert]) -> str | None:
    """The `service` label of the incident's alerts (routing and the chart title)."""
    for alert in alerts:
        service = (alert.labels or {}).get("service")
        if service:
            return str(service)
    return None


def resource_text(incident: Incident, alerts: list[Alert]) -> str:
    """`aws ecs:service prod/api (eu-west-1)`."""
    parts = [p for p in (incident.provider, incident.resource_type, incident.resource_id) if p]
    text = " ".join(parts) or "unknown resource"
    region = next((str(a.resource.get("region")) for a in alerts if (a.resource or {}).get("region")), "")
    return f"{text} ({region})" if region else text


def repeats(incident: Incident, alerts: list[Alert]) -> int:
    """Firing deliveries beyond the first of each alert."""
    return max(incident.alert_events - len(alerts), 0)


def _counts(incident: Incident, alerts: list[Alert]) -> AlertCounts:
    firing = sum(a.status == "firing" for a in alerts)
    return AlertCounts(firing=firing, resolved=len(alerts) - firing, repeats=repeats(incident, alerts))


def _anomaly(incident: Incident) -> AnomalyView | None:
    if not incident.anomaly_status and incident.anomaly_score is None and not incident.explanation:
        return None
    explanation = incident.explanation
    if incident.anomaly_status and incident.anomaly_status != "ok" and not explanation:
        explanation = incident.anomaly_status.replace("_", " ")
    return AnomalyView(
        score=incident.anomaly_score, threshold=incident.anomaly_threshold, explanation=explanation
    )


def _decision(incident: Incident) -> str:
    decision = incident.decision.replace("_", " ")
    if decision and incident.decision_reason:
        return f"{decision}: {incident.decision_reason}"
    return decision or incident.decision_reason


def _links(incident: Incident, alerts: list[Alert], jira_url: str | None) -> IncidentLinks:
    other: list[tuple[str, str]] = []
    for alert in alerts:
        for url in alert.links or []:
            if isinstance(url, str) and len(other) < 3 and ("alert", url) not in other:
                other.append(("alert", url))
    jira_link = (
        f"{jira_url.rstrip('/')}/browse/{incident.jira_key}" if jira_url and incident.jira_key else None
    )
    return IncidentLinks(jira_key=incident.jira_key or None, jira_url=jira_link, other=tuple(other))


def latest_run(session: Session, incident_id: int) -> RunbookRun | None:
    return session.scalars(
        select(RunbookRun)
        .where(RunbookRun.incident_id == incident_id)
        .order_by(RunbookRun.id.desc())
        .limit(1)
    ).first()


def shown_run(session: Session, incident_id: int) -> RunbookRun | None:
    """The run the incident's parent shows: the latest one waiting for approval (so its buttons
    stay up while later runs are refused), else the latest run."""
    waiting = session.scalars(
        select(RunbookRun)
        .join(Approval, Approval.run_id == RunbookRun.id)
        .where(RunbookRun.incident_id == incident_id, Approval.status == "pending")
        .order_by(RunbookRun.id.desc())
        .limit(1)
    ).first()
    return waiting or latest_run(session, incident_id)


def approval_of(session: Session, run_id: int) -> Approval | None:
    return session.scalars(select(Approval).where(Approval.run_id == run_id)).first()


def plan_of(run: RunbookRun) -> Plan | None:
    return plan_from_json(dict(run.plan)) if run.plan else None


def result_of(run: RunbookRun) -> RunResult | None:
    data = dict(run.result or {})
    return result_from_json(data) if "outcome" in data else None


def _risk(ctx: ViewContext, runbook_id: str) -> tuple[Risk, str]:
    spec = ctx.registry.get(runbook_id)
    return (spec.risk, spec.title) if spec is not None else (Risk.HIGH, runbook_id)


def proposal_view(run: RunbookRun, ctx: ViewContext) -> ProposalView:
    risk, title = _risk(ctx, run.runbook_id)
    plan = plan_of(run) or Plan(summary="no plan recorded", verdict="unknown")
    return ProposalView(run.runbook_id, title, run.target, risk, plan, dict(run.params or {}))


def _votes(session: Session, approval_id: int) -> list[ApprovalVote]:
    return list(
        session.scalars(
            select(ApprovalVote).where(ApprovalVote.approval_id == approval_id).order_by(ApprovalVote.id)
        ).all()
    )


def approved_by(session: Session, run_id: int) -> tuple[str, ...]:
    approval = approval_of(session, run_id)
    if approval is None:
        return ()
    return tuple(display_user(v.user) for v in _votes(session, approval.id) if v.decision == "approve")


def _approval_state(status: str) -> ApprovalState:
    try:
        return ApprovalState(status)
    except ValueError:  # a state this layer does not know yet: no live buttons for it
        return ApprovalState.CANCELLED


def approval_view(session: Session, approval: Approval, run: RunbookRun, ctx: ViewContext) -> ApprovalView:
    """Where the approval stands, with who may decide (from `[approvals]`, the engine's rules)."""
    risk, _title = _risk(ctx, run.runbook_id)
    rule = approver_rule(ctx.approvals, run.runbook_id, risk)
    users = [display_user(u) for u in sorted(rule.users)]
    for group in sorted(rule.groups):
        if not is_slack_group(group):  # a named group: show its members
            users += [
                display_user(u) for u in ctx.approvals.groups.get(group, []) if display_user(u) not in users
            ]
    votes = _votes(session, approval.id)
    approvals = tuple(Vote(display_user(v.user), v.at) for v in votes if v.decision == "approve")
    denial = next(
        (Vote(display_user(v.user), v.at, approval.reason) for v in votes if v.decision == "deny"), None
    )
    return ApprovalView(
        approval_id=str(approval.id),
        run_id=str(run.id),
        state=_approval_state(approval.status),
        expires_at=approval.expires_at,
        quorum=approval.quorum,
        approvals=approvals,
        denial=denial,
        approver_users=tuple(users),
        approver_groups=tuple(g for g in sorted(rule.groups) if is_slack_group(g)),
        requested_by=display_user(approval.requested_by),
        approver_role=rule.role.value if rule.role is not None else "",
    )


def run_approval(session: Session, run: RunbookRun, ctx: ViewContext) -> ApprovalView | None:
    approval = approval_of(session, run.id)
    return approval_view(session, approval, run, ctx) if approval is not None else None


def incident_view(
    session: Session, incident: Incident, ctx: ViewContext, *, detailed: bool = True
) -> IncidentView:
    """The parent message's view. `detailed` adds the proposal and approval of the latest run."""
    alerts = incident_alerts(session, incident.id)
    proposal: ProposalView | None = None
    approval: ApprovalView | None = None
    if detailed:
        run = shown_run(session, incident.id)
        if run is not None:
            proposal = proposal_view(run, ctx)
            approval = run_approval(session, run, ctx)
    summary = next((a.summary for a in alerts if a.summary), "")
    return IncidentView(
        id=str(incident.id),
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        resource=resource_text(incident, alerts),
        source=", ".join(dict.fromkeys(a.source for a in alerts)) or "unknown",
        opened_at=incident.opened_at,
        counts=_counts(incident, alerts),
        summary=summary,
        anomaly=_anomaly(incident),
        proposal=proposal,
        approval=approval,
        decision=_decision(incident),
        acknowledged_by=display_user(incident.acknowledged_by) or None,
        acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
        links=_links(incident, alerts, ctx.jira_url),
    )


def run_view(session: Session, run: RunbookRun) -> RunView:
    return RunView(
        run_id=str(run.id),
        runbook_id=run.runbook_id,
        target=run.target,
        requested_by=display_user(run.requested_by),
        started_at=run.started_at or run.created_at,
        approved_by=approved_by(session, run.id),
        plan=plan_of(run),
        result=result_of(run),
        finished_at=run.finished_at,
        attempt=max(run.attempts, 1),
    )


def repeat_view(incident: Incident, alerts: list[Alert], *, first_at: datetime | None) -> RepeatView | None:
    count = repeats(incident, alerts)
    if count <= 0 or not alerts:
        return None
    loudest = max(alerts, key=lambda a: (a.deliveries, a.last_seen))
    return RepeatView(
        incident_id=str(incident.id),
        alert_name=loudest.name,
        count=count,
        last_at=max(a.last_seen for a in alerts),
        first_at=first_at,
    )


def _run_summary(session: Session, run: RunbookRun) -> RunSummary:
    result = result_of(run)
    outcome = result.outcome if result is not None and run.status in _FINISHED else None
    note = "" if outcome is not None else f"{run.status.replace('_', ' ')}: {run.reason}".rstrip(": ")
    return RunSummary(
        run_id=str(run.id),
        runbook_id=run.runbook_id,
        target=run.target,
        outcome=outcome,
        approved_by=approved_by(session, run.id),
        note=note,
    )


def resolution_view(session: Session, incident: Incident) -> ResolutionView:
    """What fired, what ran, who approved, time to acknowledge and to resolve."""
    alerts = incident_alerts(session, incident.id)
    runs = session.scalars(
        select(RunbookRun).where(RunbookRun.incident_id == incident.id).order_by(RunbookRun.id)
    ).all()
    resolved_by = display_user(incident.resolved_by) or "system"
    if resolved_by.startswith("run:"):
        resolved_by = f"the fix ({resolved_by})"
    return ResolutionView(
        incident_id=str(incident.id),
        title=incident.title,
        opened_at=incident.opened_at,
        resolved_at=incident.resolved_at or incident.updated_at,
        resolved_by=resolved_by,
        fired=tuple(FiredAlert(a.name, a.severity, a.deliveries) for a in alerts),
        runs=tuple(_run_summary(session, r) for r in runs),
        acknowledged_at=incident.acknowledged_at,
        acknowledged_by=display_user(incident.acknowledged_by) or None,
    )


@dataclass(frozen=True)
class ChartSeries:
    """The metric window behind the score (`Incident.evidence`), ready for `render_metric_chart`."""

    title: str
    unit: str
    timestamps: list[datetime]
    values: list[float | None]
    scores: list[float | None] | None
    threshold: float | None
    value_threshold: float | None


def _floats(raw: Any) -> list[float | None]:
    return [None if v is None else float(v) for v in raw]


def chart_series(incident: Incident, alerts: list[Alert]) -> ChartSeries | None:
    """None when the incident has no usable evidence (no metric, or a malformed window)."""
    evidence = dict(incident.evidence or {})
    raw_times, raw_values = evidence.get("timestamps") or [], evidence.get("values") or []
    if not raw_times or len(raw_times) != len(raw_values):
        return None
    try:
        timestamps = [datetime.fromisoformat(str(t).replace("Z", "+00:00")) for t in raw_times]
        values = _floats(raw_values)
        raw_scores = evidence.get("scores")
        scores = _floats(raw_scores) if raw_scores and len(raw_scores) == len(timestamps) else None
        threshold = evidence.get("threshold", incident.anomaly_threshold)
        threshold = None if threshold is None else float(threshold)
    except (TypeError, ValueError):
        return None
    value_threshold: float | None = None
    for alert in alerts:
        metric_threshold = (alert.metric or {}).get("threshold")
        if isinstance(metric_threshold, int | float):
            value_threshold = float(metric_threshold)
            break
    return ChartSeries(
        title=str(evidence.get("key") or incident.title),
        unit=str(evidence.get("unit") or ""),
        timestamps=timestamps,
        values=values,
        scores=scores,
        threshold=threshold,
        value_threshold=value_threshold,
    )
