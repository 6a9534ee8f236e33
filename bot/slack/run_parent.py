"""The parent message of a run that belongs to no incident (requested from Slack, the CLI or
the API): what will run, its plan, and the Approve / Deny buttons while it waits.

Like the incident's parent it is re-rendered whole and sent with chat.update; the run's
progress goes into its thread (bot/slack/thread.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.blocks import Block, context, divider, header, render_approval, render_plan, section
from bot.slack.signing import ActionSigner
from bot.slack.text import code, compact, mention, safe, slack_time
from bot.slack.views import ApprovalState, ApprovalView, RunView
from integrations.slack.wire import SlackMessage

STATUS_EMOJI = {
    "awaiting_approval": ":hourglass_flowing_sand:",
    "approved": ":arrow_forward:",
    "running": ":arrow_forward:",
    "verifying": ":mag:",
    "unknown": ":warning:",
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
    "timed_out": ":x:",
    "ineffective": ":x:",
    "rejected": ":no_entry:",
    "expired": ":hourglass:",
    "cancelled": ":heavy_minus_sign:",
}


@dataclass(frozen=True, slots=True)
class RunParentView:
    run: RunView
    status: str  # the run's status (RunStatus value)
    reason: str = ""
    approval: ApprovalView | None = None
    params: dict[str, object] | None = None


def render_run_parent(view: RunParentView, *, signer: ActionSigner | None = None) -> SlackMessage:
    run = view.run
    status = f"{STATUS_EMOJI.get(view.status, '')} {safe(view.status.replace('_', ' '), 40)}".strip()
    blocks: list[Block] = [
        header(f"Run {run.runbook_id} on {run.target}"),
        section(
            f"*Status* {status}"
            + (f" — {safe(view.reason, 500)}" if view.reason else "")
            + f"\n*Requested by* {mention(run.requested_by)} · {slack_time(run.started_at)}"
            + (f"\n*Params* {safe(compact(view.params, 300), 400)}" if view.params else "")
        ),
    ]
    if run.plan is not None:
        blocks.append(divider())
        blocks.append(section(f"*Plan*\n{render_plan(run.plan)}"[:2990]))
    if view.approval is not None:
        blocks.extend(render_approval(view.approval, signer=signer))
    footer = f"Run {code(run.run_id, 60)}"
    fallback = f"Run {safe(run.runbook_id, 100)} on {safe(run.target, 200)}: {safe(view.status, 40)}"
    if view.approval is not None and view.approval.state is ApprovalState.PENDING:
        footer += f" · or `/conductor approve {safe(run.run_id, 60)}`"
        fallback += f" · approval needed ({view.approval.progress})"
    blocks.append(context(footer))
    return SlackMessage(text=fallback, blocks=blocks)
