"""What the Slack listeners do: the handlers `integrations.slack.bolt_app` calls for `/conductor`,
the Approve / Deny buttons and replayed requests, each one call into `bot.slack.dispatch` or the
store. Slack's wire format stays in `integrations/slack/`; this side sees `SlackActor`s and gives
`SlackMessage`s."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.slack.blocks import section
from bot.slack.dispatch import handle_approval_click, handle_command_text, handle_suggestion_click
from bot.slack.policy_messages import RUN_SUGGESTION_ACTION
from bot.slack.ports import SlackCore
from bot.slack.replay import SeenRequests, changes_state
from bot.slack.signing import ACTION_IDS, ActionSigner
from integrations.slack.bolt_app import ButtonClick, ClickAnswer, SlackHandlers
from integrations.slack.client import SlackPort
from integrations.slack.wire import SlackActor, SlackMessage

SORRY = SlackMessage(
    text="Something went wrong; it has been logged.",
    blocks=[section(":warning: Something went wrong on our side; it has been logged. Try again shortly.")],
)
MENTION_REPLY = "Hi! I answer to `/conductor` — try `/conductor help`."


def slack_handlers(
    *,
    core: SlackCore,
    signer: ActionSigner,
    poster: SlackPort,
    refresh: Callable[[str, str], object],
    clock: Callable[[], datetime],
    seen: SeenRequests,
) -> SlackHandlers:
    """The handlers: `core` runs commands and votes, `signer` checks button values, `poster`
    answers refused clicks, `refresh(channel, ts)` re-renders a parent message from the store, and
    `seen` holds the signed requests already handled (replays are ignored)."""

    def command(text: str, actor: SlackActor) -> SlackMessage:
        return handle_command_text(text, actor=actor, core=core, now=clock())

    def click(pressed: ButtonClick) -> ClickAnswer:
        if pressed.action_id == RUN_SUGGESTION_ACTION:  # "Run it" on a suggestion
            reply = handle_suggestion_click(value=pressed.value, actor=pressed.actor, core=core, now=clock())
            return ClickAnswer(ephemeral=reply)
        result = handle_approval_click(
            value=pressed.value,
            action_id=pressed.action_id,
            channel=pressed.channel,
            message_ts=pressed.message_ts,
            actor=pressed.actor,
            core=core,
            signer=signer,
            now=clock(),
        )
        return ClickAnswer(ephemeral=result.ephemeral, refresh=result.approval is not None)

    def refuse(actor: SlackActor, attempt: str, reason: str) -> None:
        core.audit_refusal(actor=actor, action=attempt, reason=reason)

    return SlackHandlers(
        command=command,
        click=click,
        action_ids=(*ACTION_IDS.values(), RUN_SUGGESTION_ACTION),
        poster=poster,
        refresh=refresh,
        first_time=seen.first_time,
        changes_state=changes_state,
        refuse=refuse,
        sorry=SORRY,
        mention_reply=MENTION_REPLY,
    )
