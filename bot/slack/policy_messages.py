"""Slack renderings of the policies: a suggestion with its "Run it" button, a queued run, and
the replies of `/conductor freeze` and `/conductor resume`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.engine.serialize import plan_from_json
from bot.slack.blocks import Block, context, render_plan, section
from bot.slack.text import code, safe
from bot.store.models import RunbookRun
from integrations.slack.wire import SlackMessage

RUN_SUGGESTION_ACTION = "conductor_run_suggestion"


def render_suggestion(run: RunbookRun) -> SlackMessage:
    """The plan of a suggested run and a "Run it" button (the click is checked like `/conductor run`)."""
    plan = plan_from_json(dict(run.plan or {}))
    what = f"{code(run.runbook_id, 100)} on {code(run.target, 200)}"
    text = f":bulb: Suggested: {what}"
    button: Block = {
        "type": "actions",
        "block_id": f"suggestion-{run.id}",
        "elements": [
            {
                "type": "button",
                "action_id": RUN_SUGGESTION_ACTION,
                "text": {"type": "plain_text", "text": "Run it"},
                "style": "primary",
                "value": str(run.id),
                "confirm": {
                    "title": {"type": "plain_text", "text": "Run this runbook?"},
                    "text": {"type": "mrkdwn", "text": f"{what} as you (its approval policy applies)"},
                    "confirm": {"type": "plain_text", "text": "Run it"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            }
        ],
    }
    blocks = [
        section(text),
        section(render_plan(plan)),
        context(safe(run.reason, 500) + f" · run {code(run.id, 40)}"),
        button,
    ]
    return SlackMessage(text=text, blocks=blocks)


def render_queued(run: RunbookRun) -> SlackMessage:
    text = f":hourglass_flowing_sand: Queued: {code(run.runbook_id, 100)} on {code(run.target, 200)}"
    return SlackMessage(text=text, blocks=[section(text), context(safe(run.reason, 1000))])


def render_freezes(rows: Sequence[dict[str, Any]]) -> SlackMessage:
    if not rows:
        return SlackMessage(text="No freezes", blocks=[section("No change freezes in force or upcoming.")])
    lines = []
    for row in rows:
        when = (
            f"cron {code(row['cron'], 60)} for {row['duration_minutes']:g} min ({safe(row['timezone'], 64)})"
            if row["cron"]
            else f"until {safe(row['ends_at'], 40)}"
        )
        effect = "blocks automatic runs" if row["block"] else "automatic runs need approval"
        if row["maintenance"]:
            effect += "; alerts marked as maintenance"
        state = "*in force*" if row["active"] else "upcoming"
        name, scope = safe(row["name"], 200), safe(row["scope"], 300)
        lines.append(f"• #{row['id']} *{name}* ({state}) on {scope}, {when}: {effect}")
    return SlackMessage(text=f"{len(rows)} freezes", blocks=[section("\n".join(lines))])


def render_policy_done(text: str) -> SlackMessage:
    return SlackMessage(text=text, blocks=[section(safe(text, 2500))])
