"""Which thread message an incident or run event gets, and its notification-log key.

Each key names one message that must be sent at most once, however often the job that sends
it is retried: `slack:run:12:result`, `slack:incident:7:resolved:0` (the suffix counts reopens,
so an incident resolved again after reopening gets a new summary).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from bot.runbook_kit.spec import VerifyStatus
from bot.slack.blocks import context, section
from bot.slack.policy_messages import render_queued, render_suggestion
from bot.slack.text import code, mention, safe, slack_time
from bot.slack.thread import render_run, render_verification
from bot.slack.viewmodels import display_user, run_view
from bot.slack.views import VerificationView
from bot.store.models import Incident, RunbookRun
from integrations.slack.wire import SlackMessage


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    key: str
    message: SlackMessage


def note(text: str, *, detail: str = "") -> SlackMessage:
    """A one-line thread message (with an optional context line)."""
    blocks = [section(text)]
    if detail:
        blocks.append(context(detail))
    return SlackMessage(text=text, blocks=blocks)


def _what(run: RunbookRun) -> str:
    return f"{code(run.runbook_id, 100)} on {code(run.target, 200)}"


def _verification(run: RunbookRun, status: VerifyStatus, at: datetime) -> SlackMessage:
    return render_verification(
        VerificationView(str(run.id), run.runbook_id, run.target, status, at, detail=run.reason)
    )


def run_message(session: Session, run: RunbookRun, event: str, *, now: datetime) -> ThreadMessage | None:
    """The thread message for a run event; None for events the parent message shows by itself
    (awaiting approval, votes, approved, denied, expired)."""
    key = f"slack:run:{run.id}"
    view = run_view(session, run)
    at = run.finished_at or run.updated_at or now
    if event == "running":
        started = replace(view, result=None, finished_at=None)
        return ThreadMessage(f"{key}:running:{run.attempts}", render_run(started))
    if event == "verifying":
        return ThreadMessage(f"{key}:acted", render_run(replace(view, finished_at=None)))
    if event == "succeeded" and run.acted_at is not None:
        return ThreadMessage(f"{key}:verified", _verification(run, VerifyStatus.SUCCEEDED, at))
    if event == "ineffective":
        return ThreadMessage(f"{key}:verified", _verification(run, VerifyStatus.FAILED, at))
    if event == "unknown":
        text = f":warning: Timed out and still running: {_what(run)} stays locked until the action ends"
        return ThreadMessage(f"{key}:unknown", note(text, detail=safe(run.reason, 1000)))
    if event in ("succeeded", "noop", "failed", "timed_out"):
        if view.result is None:
            text = f":x: Run {safe(event.replace('_', ' '), 30)}: {_what(run)}"
            return ThreadMessage(f"{key}:result", note(text, detail=safe(run.reason, 1000)))
        return ThreadMessage(f"{key}:result", render_run(view))
    if event == "rolled_back":
        rollback = dict((run.result or {}).get("rollback") or {})
        outcome = str(rollback.get("outcome", "unknown"))
        text = f":leftwards_arrow_with_hook: Rolled back {_what(run)}: {safe(outcome, 30)}"
        return ThreadMessage(f"{key}:rolled_back", note(text, detail=safe(rollback.get("reason", ""), 1000)))
    if event == "rejected":
        text = f":no_entry: Not running {_what(run)}: {safe(run.reason, 1000)}"
        return ThreadMessage(f"{key}:rejected", note(text, detail=f"run {code(run.id, 40)}"))
    if event == "suggested":
        return ThreadMessage(f"{key}:suggested", render_suggestion(run))
    if event == "queued":
        return ThreadMessage(f"{key}:queued:{run.updated_at.isoformat()}", render_queued(run))
    if event == "cancelled":
        text = f":heavy_minus_sign: Cancelled {_what(run)}"
        return ThreadMessage(f"{key}:cancelled", note(text, detail=safe(run.reason, 1000)))
    return None


def incident_note(incident: Incident, event: str) -> ThreadMessage | None:
    """Thread notes for the incident's own lifecycle (the resolution summary is separate)."""
    key = f"slack:incident:{incident.id}"
    if event == "acknowledged" and incident.acknowledged_at is not None:
        who = mention(display_user(incident.acknowledged_by) or "someone")
        return ThreadMessage(
            f"{key}:acknowledged:{incident.reopened_count}",
            note(f":eyes: Acknowledged by {who}", detail=slack_time(incident.acknowledged_at)),
        )
    if event == "reopened":
        return ThreadMessage(
            f"{key}:reopened:{incident.reopened_count}",
            note(
                ":rotating_light: "
                f"Reopened (x{incident.reopened_count}): it fired again soon after it resolved",
                detail=slack_time(incident.updated_at),
            ),
        )
    return None


def escalation_key(*, run_id: int | None, incident_id: int | None, reason: str) -> str:
    """One escalation message per run (the engine escalates a run once), else per reason."""
    if run_id is not None:
        return f"slack:escalation:run:{run_id}"
    digest = hashlib.sha256(reason.encode()).hexdigest()[:16]
    return f"slack:escalation:incident:{incident_id}:{digest}"
