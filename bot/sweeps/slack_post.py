"""Posting a sweep's summary to Slack: the sweep's channel (or `[slack] default_channel`), one message,
and what happened, for the sweep's report (a problem is reported, never raised)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot.config.sweeps import SweepSettings
from bot.errors import IntegrationError
from bot.sweeps.sources import SweepSources

if TYPE_CHECKING:
    from integrations.slack.client import PostedMessage, SlackPort

    FollowUp = Callable[[SlackPort, PostedMessage], None]


def post_summary(
    sweep: SweepSettings,
    sources: SweepSources,
    message: tuple[Sequence[Any], str],
    problems: list[str],
    *,
    then: FollowUp | None = None,
) -> dict[str, Any]:
    """Post `message` (blocks, text) as a parent message, then `then(slack, posted)` (e.g. a chart in
    its thread); the outcome as the sweep report's `slack` entry."""
    slack = sources.slack()
    if slack is None:
        return {"posted": False, "reason": sources.slack_off_reason()}
    channel = sweep.slack_channel or sources.settings.slack.default_channel
    if not channel:
        problems.append("slack: no channel (set slack_channel on the sweep or [slack] default_channel)")
        return {"posted": False, "reason": "no channel"}
    blocks, text = message
    try:
        posted = slack.post_parent(channel, blocks, text)
        if then is not None:
            then(slack, posted)
    except IntegrationError as error:
        problems.append(f"slack: {error}")
        return {"posted": False, "channel": channel, "error": str(error)}
    return {"posted": True, "channel": posted.channel, "ts": posted.ts}
