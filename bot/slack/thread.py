"""Block Kit for the messages in an incident's thread: repeats, runs, verification,
escalations and the resolution summary."""

from __future__ import annotations

from bot.runbook_kit.spec import Outcome, RunResult, VerifyStatus
from bot.slack.blocks import Block, context, link, render_plan, section
from bot.slack.text import code, compact, format_duration, mask_secrets, mention, safe, slack_time
from bot.slack.views import (
    EscalationView,
    RepeatView,
    ResolutionView,
    RunSummary,
    RunView,
    VerificationView,
)
from integrations.slack.wire import SlackMessage

OUTCOME_EMOJI = {
    Outcome.CHANGED: ":white_check_mark:",
    Outcome.NOOP: ":heavy_minus_sign:",
    Outcome.FAILED: ":x:",
}
VERIFY_EMOJI = {
    VerifyStatus.SUCCEEDED: ":white_check_mark:",
    VerifyStatus.PENDING: ":hourglass_flowing_sand:",
    VerifyStatus.FAILED: ":x:",
}
MAX_DETAILS = 8


def render_repeat(view: RepeatView) -> SlackMessage:
    """`fired again (x3)`. Post it once per incident and chat.update it as the count grows,
    so repeats are counted rather than spammed."""
    text = f":repeat: {code(view.alert_name, 120)} fired again (x{view.count})"
    detail = f"last at {slack_time(view.last_at)}"
    if view.first_at is not None:
        detail = f"first repeat {slack_time(view.first_at)} · {detail}"
    return SlackMessage(
        text=f"{safe(view.alert_name, 120)} fired again (x{view.count})",
        blocks=[section(text), context(detail)],
    )


def _details(result: RunResult) -> list[str]:
    items = list(result.details.items())[:MAX_DETAILS]
    lines = [f"• {safe(k, 60)}: {safe(compact(mask_secrets({k: v})[k], 200))}" for k, v in items]
    if len(result.details) > MAX_DETAILS:
        lines.append(f"_… and {len(result.details) - MAX_DETAILS} more_")
    return lines


def render_run(view: RunView) -> SlackMessage:
    """A run starting (`result` None) or finished, with its outcome and details."""
    what = f"{code(view.runbook_id, 100)} on {code(view.target, 200)}"
    kind = "Dry run" if view.dry_run else "Run"
    meta = [f"run {code(view.run_id, 80)}", f"requested by {mention(view.requested_by)}"]
    if view.approved_by:
        meta.append("approved by " + ", ".join(mention(u) for u in view.approved_by))
    if view.attempt > 1:
        meta.append(f"attempt {view.attempt}")
    blocks: list[Block] = []
    if view.result is None:
        text = f":arrow_forward: {kind} started: {what}"
        blocks.append(section(text))
        if view.plan is not None:
            blocks.append(section(render_plan(view.plan)))
        fallback = f"{kind} started: {safe(view.runbook_id, 100)} on {safe(view.target, 200)}"
    else:
        outcome = view.result.outcome
        text = f"{OUTCOME_EMOJI[outcome]} {kind} {outcome.value}: {what}"
        if view.result.reason:
            text += f"\n{safe(view.result.reason, 1500)}"
        details = _details(view.result)
        if details:
            text += "\n" + "\n".join(details)
        blocks.append(section(text[:2990]))
        if view.finished_at is not None:
            meta.append(f"took {format_duration(view.finished_at - view.started_at)}")
        fallback = f"{kind} {outcome.value}: {safe(view.runbook_id, 100)} on {safe(view.target, 200)}"
        if view.result.reason:
            fallback += f" — {safe(view.result.reason, 300)}"
    blocks.append(context(" · ".join(meta)))
    return SlackMessage(text=fallback, blocks=blocks)


def render_verification(view: VerificationView) -> SlackMessage:
    words = {
        VerifyStatus.SUCCEEDED: "Verified",
        VerifyStatus.PENDING: "Verifying",
        VerifyStatus.FAILED: "Verification failed",
    }
    word = words[view.status]
    text = f"{VERIFY_EMOJI[view.status]} *{word}*: {code(view.runbook_id, 100)} on {code(view.target, 200)}"
    if view.detail:
        text += f"\n{safe(view.detail, 1500)}"
    return SlackMessage(
        text=f"{word}: {safe(view.runbook_id, 100)} on {safe(view.target, 200)}",
        blocks=[section(text), context(f"run {code(view.run_id, 80)} · {slack_time(view.at)}")],
    )


def render_escalation(view: EscalationView) -> SlackMessage:
    to = safe(view.to, 200)
    if view.link:
        to = link(view.link, view.to)
    text = f":rotating_light: *Escalated* to {to}: {safe(view.reason, 1500)}"
    return SlackMessage(
        text=f"Escalated to {safe(view.to, 200)}: {safe(view.reason, 300)}",
        blocks=[section(text), context(f"incident {code(view.incident_id, 80)} · {slack_time(view.at)}")],
    )


def _run_line(run: RunSummary) -> str:
    state = "did not run" if run.outcome is None else f"{OUTCOME_EMOJI[run.outcome]} {run.outcome.value}"
    dry = " (dry run)" if run.dry_run else ""
    line = f"• {code(run.runbook_id, 100)} on {code(run.target, 200)}{dry}: {state}"
    if run.approved_by:
        line += " · approved by " + ", ".join(mention(u) for u in run.approved_by)
    if run.note:
        line += f" · {safe(run.note, 300)}"
    return line


def render_resolution(view: ResolutionView) -> SlackMessage:
    """What fired, what ran, who approved, time to acknowledge, time to resolve."""
    ttr = format_duration(view.resolved_at - view.opened_at)
    if view.acknowledged_at is not None:
        tta = format_duration(view.acknowledged_at - view.opened_at)
        if view.acknowledged_by:
            tta += f" (by {mention(view.acknowledged_by)})"
    else:
        tta = "not acknowledged"
    fired = [
        f"• {code(a.name, 120)} ({safe(a.severity, 20)}){f' x{a.count}' if a.count > 1 else ''}"
        for a in view.fired[:15]
    ] or ["• _no alerts recorded_"]
    runs = [_run_line(r) for r in view.runs[:15]] or ["• _no runbook ran_"]
    approvers = sorted({u for r in view.runs for u in r.approved_by})
    who_approved = ", ".join(mention(u) for u in approvers) if approvers else "_no approvals needed_"
    blocks: list[Block] = [
        section(f":white_check_mark: *Resolved* {safe(view.title, 200)} by {mention(view.resolved_by)}"),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Time to acknowledge*\n{tta}"},
                {"type": "mrkdwn", "text": f"*Time to resolve*\n{ttr}"},
                {"type": "mrkdwn", "text": f"*Approved by*\n{who_approved}"},
                {"type": "mrkdwn", "text": f"*Opened*\n{slack_time(view.opened_at)}"},
            ],
        },
        section(("*What fired*\n" + "\n".join(fired))[:2990]),
        section(("*What ran*\n" + "\n".join(runs))[:2990]),
    ]
    if view.resolution_note:
        blocks.append(section(f"*Note*\n{safe(view.resolution_note, 2000)}"))
    blocks.append(context(f"incident {code(view.incident_id, 80)} · resolved {slack_time(view.resolved_at)}"))
    fallback = (
        f"Resolved {safe(view.title, 200)} — time to acknowledge {tta}, time to resolve {ttr}, "
        f"{len(view.runs)} run(s)"
    )
    return SlackMessage(text=fallback, blocks=blocks)
