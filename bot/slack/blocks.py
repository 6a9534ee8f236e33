"""Block Kit for the incident's parent message: the incident, its plan and the approval.

The parent message is always re-rendered whole and sent with chat.update, so "replace the
buttons with who decided" is simply rendering the view after the decision. Thread messages
(repeats, runs, verification, escalation, resolution) are in `thread.py`.
"""

from __future__ import annotations

import re
from typing import Any

from bot.runbook_kit.spec import Plan, PlannedCall
from bot.slack.signing import ACTION_IDS, ActionSigner, ApprovalAction
from bot.slack.text import code, compact, mention, plain, safe, slack_time
from bot.slack.views import ApprovalState, ApprovalView, IncidentLinks, IncidentView
from integrations.slack.wire import SlackMessage

Block = dict[str, Any]

MAX_BLOCKS = 50  # Slack's limit per message
MAX_PLAN_CALLS = 10  # calls listed before "... and N more"
APPROVAL_BLOCK_PREFIX = "conductor_approval:"  # block_id of the buttons: prefix + approval id
_URL = re.compile(r"https?://[^\s<>|]+\Z")

SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "error": ":large_orange_circle:",
    "warning": ":large_yellow_circle:",
    "info": ":large_blue_circle:",
}
STATUS_EMOJI = {
    "open": ":rotating_light:",
    "acknowledged": ":eyes:",
    "resolved": ":white_check_mark:",
}


def mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts]}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": plain(text, 150), "emoji": True}}


def divider() -> Block:
    return {"type": "divider"}


def _fields(pairs: list[tuple[str, str]]) -> Block:
    return {"type": "section", "fields": [mrkdwn(f"*{k}*\n{v}") for k, v in pairs[:10]]}


def _call_line(call: PlannedCall) -> str:
    line = f"• {code(call.system, 60)} {code(call.operation, 80)}"
    if call.params:
        line += f" {safe(compact(call.params, 200), 240)}"
    if call.before is not None or call.after is not None:
        line += f": {safe(compact(call.before, 80))} → {safe(compact(call.after, 80))}"
    if call.description:
        line += f" — {safe(call.description, 200)}"
    return line


def render_plan(plan: Plan, *, limit: int = 2500) -> str:
    """The plan as mrkdwn: its summary, then one line per call (or why nothing is planned),
    at most `MAX_PLAN_CALLS` calls and `limit` characters, with a count of what was left out."""
    lines = [safe(plan.summary, 500) or "_no summary_"]
    if plan.is_noop:
        lines.append(f"_No calls planned ({safe(plan.verdict, 100)})._")
    used = len(lines[0])
    shown = 0
    for call in plan.calls[:MAX_PLAN_CALLS]:
        line = _call_line(call)
        if used + len(line) + 1 > limit - 40:
            break
        lines.append(line)
        used += len(line) + 1
        shown += 1
    if len(plan.calls) > shown:
        lines.append(f"_… and {len(plan.calls) - shown} more calls_")
    return "\n".join(lines)


def _approvers(approval: ApprovalView) -> str:
    names = [mention(u) for u in approval.approver_users]
    names += [f"<!subteam^{g}>" for g in approval.approver_groups if g.isalnum()]
    if approval.approver_role:
        names.append(f"anyone with the {safe(approval.approver_role, 20)} role")
    if names:
        return ", ".join(names)
    return "_nobody is configured to approve_"


def render_approval_progress(approval: ApprovalView) -> str:
    """`1/2 approvals (<@U1>) · expires ...`: quorum progress while pending."""
    text = f":hourglass_flowing_sand: *Approval needed* — {approval.progress} approvals"
    if approval.approvals:
        text += " (" + ", ".join(mention(v.user) for v in approval.approvals) + ")"
    text += f" · expires {slack_time(approval.expires_at)} · approvers: {_approvers(approval)}"
    return text


def render_approval_buttons(approval: ApprovalView, *, signer: ActionSigner) -> list[Block]:
    """Progress line and the Approve / Deny buttons, each carrying a signed value."""

    def button(action: ApprovalAction, label: str, style: str) -> Block:
        return {
            "type": "button",
            "action_id": ACTION_IDS[action],
            "text": {"type": "plain_text", "text": label},
            "style": style,
            "value": signer.sign(
                approval_id=approval.approval_id,
                run_id=approval.run_id,
                action=action,
                expires_at=approval.expires_at,
            ),
        }

    approve = button(ApprovalAction.APPROVE, "Approve", "primary")
    approve["confirm"] = {
        "title": {"type": "plain_text", "text": "Approve this run?"},
        "text": mrkdwn(f"Run {code(approval.run_id, 80)} will start when the quorum is reached."),
        "confirm": {"type": "plain_text", "text": "Approve"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    return [
        context(render_approval_progress(approval)),
        {
            "type": "actions",
            "block_id": (APPROVAL_BLOCK_PREFIX + approval.approval_id)[:255],
            "elements": [approve, button(ApprovalAction.DENY, "Deny", "danger")],
        },
    ]


def render_approval_outcome(approval: ApprovalView) -> str:
    """Who decided and when; replaces the buttons once the approval is no longer pending."""
    if approval.state is ApprovalState.APPROVED:
        who = ", ".join(f"{mention(v.user)} at {slack_time(v.at)}" for v in approval.approvals)
        return f":white_check_mark: *Approved* by {who or '_unknown_'}"
    if approval.state is ApprovalState.DENIED and approval.denial is not None:
        text = f":no_entry: *Denied* by {mention(approval.denial.user)} at {slack_time(approval.denial.at)}"
        if approval.denial.reason:
            text += f": {safe(approval.denial.reason, 500)}"
        return text
    if approval.state is ApprovalState.EXPIRED:
        text = f":hourglass: *Approval expired* at {slack_time(approval.expires_at)} without a decision"
        if approval.approvals:
            text += f" ({approval.progress} approvals)"
        return text
    if approval.state is ApprovalState.CANCELLED:
        return ":heavy_minus_sign: *Approval cancelled*: the incident resolved before a decision"
    return render_approval_progress(approval)


def render_approval(approval: ApprovalView, *, signer: ActionSigner | None) -> list[Block]:
    """Buttons while pending (when a signer is given), otherwise the outcome line."""
    if approval.state is ApprovalState.PENDING:
        if signer is None:
            return [context(render_approval_progress(approval))]
        return render_approval_buttons(approval, signer=signer)
    return [context(render_approval_outcome(approval))]


def link(url: str | None, label: str) -> str:
    """`<url|label>` for a plain http(s) URL; just the label for anything else."""
    text = safe(label, 80).replace("|", "/")
    if url and _URL.match(url):
        return f"<{url}|{text}>"
    return text


def _links(links: IncidentLinks) -> str:
    parts: list[str] = []
    if links.jira_key or links.jira_url:
        parts.append("Jira " + link(links.jira_url, links.jira_key or "issue"))
    if links.pagerduty_id or links.pagerduty_url:
        parts.append("PagerDuty " + link(links.pagerduty_url, links.pagerduty_id or "incident"))
    parts.extend(link(url, label) for label, url in links.other)
    return " · ".join(parts)


def probability(value: float) -> str:
    """Enough digits to tell a score from a threshold near 1 (0.9991 vs 0.996, not 1.00 vs 1.00)."""
    if value < 0.99:
        return f"{value:.2f}"
    digits = 3
    while digits < 6 and round(value, digits) >= 1.0 and value < 1.0:
        digits += 1
    return f"{value:.{digits + 1}f}".rstrip("0").rstrip(".") if value < 1.0 else "1"


def _score(view: IncidentView) -> str | None:
    anomaly = view.anomaly
    if anomaly is None:
        return None
    if anomaly.score is None:
        text = "*Anomaly score* n/a"
    else:
        text = f"*Anomaly score* {probability(anomaly.score)}"
        if anomaly.threshold is not None:
            verdict = "anomalous" if anomaly.score >= anomaly.threshold else "below threshold"
            text += f" (threshold {probability(anomaly.threshold)}, {verdict})"
    if anomaly.explanation:
        text += f"\n{safe(anomaly.explanation, 1000)}"
    return text


def _alerts(view: IncidentView) -> str:
    counts = view.counts
    text = f"{counts.firing} firing"
    if counts.resolved:
        text += f", {counts.resolved} resolved"
    if counts.repeats:
        text += f" · fired again (x{counts.repeats})"
    return text


def incident_fallback(view: IncidentView) -> str:
    """The notification text: `[CRITICAL] title — resource · open · approval 0/1`."""
    text = (
        f"[{safe(view.severity.upper(), 20)}] {safe(view.title, 200)} — "
        f"{safe(view.resource, 200)} · {safe(view.status, 40)}"
    )
    if view.approval is not None:
        if view.approval.state is ApprovalState.PENDING:
            text += f" · approval needed ({view.approval.progress})"
        else:
            text += f" · {view.approval.state.value}"
    return text


def render_incident(view: IncidentView, *, signer: ActionSigner | None = None) -> SlackMessage:
    """The incident's parent message. Pass `signer` to get live Approve / Deny buttons."""
    emoji = SEVERITY_EMOJI.get(view.severity.lower(), ":white_circle:")
    blocks: list[Block] = [header(view.title)]
    status = f"{STATUS_EMOJI.get(view.status.lower(), '')} {safe(view.status, 40)}".strip()
    if view.acknowledged_by and view.status.lower() == "acknowledged":
        status += f" by {mention(view.acknowledged_by)}"
    blocks.append(
        _fields(
            [
                ("Severity", f"{emoji} {safe(view.severity, 40)}"),
                ("Status", status),
                ("Resource", safe(view.resource, 500)),
                ("Source", safe(view.source, 100)),
                ("Alerts", _alerts(view)),
                ("Opened", slack_time(view.opened_at)),
            ]
        )
    )
    if view.summary:
        blocks.append(section(safe(view.summary, 2000)))
    score = _score(view)
    if score:
        blocks.append(section(score))
    if view.decision:
        blocks.append(context(f":robot_face: {safe(view.decision, 500)}"))
    if view.proposal is not None:
        p = view.proposal
        head = f"*Proposed runbook* {code(p.runbook_id, 100)} on {code(p.target, 200)}"
        head += f" · risk *{p.risk.value}*"
        if p.params:
            head += f" · params {safe(compact(dict(p.params), 300), 400)}"
        blocks.append(divider())
        blocks.append(section(f"{head}\n{render_plan(p.plan)}"[:2990]))
    if view.approval is not None:
        blocks.extend(render_approval(view.approval, signer=signer))
    footer = [f"Incident {code(view.id, 80)}"]
    links = _links(view.links)
    if links:
        footer.append(links)
    if view.resolved_at is not None:
        footer.append(f"resolved {slack_time(view.resolved_at)}")
    blocks.append(context(" · ".join(footer)))
    return SlackMessage(text=incident_fallback(view), blocks=blocks[:MAX_BLOCKS])


__all__ = [
    "APPROVAL_BLOCK_PREFIX",
    "Block",
    "SlackMessage",
    "link",
    "render_approval",
    "render_approval_buttons",
    "render_approval_outcome",
    "render_approval_progress",
    "render_incident",
    "render_plan",
]
