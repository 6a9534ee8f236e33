"""Finding a Slack message a dead sender got out: the notification log's `find` for Slack.

Messages sent through the notification log carry its key as Slack message metadata. A worker
that takes over a dead sender's claim asks Slack (conversations.history for a parent,
conversations.replies for a thread reply) for a message carrying that key, posted since the key
was first claimed (minus `MARGIN`, for clocks that disagree), and records it instead of posting
again. If Slack cannot be asked for good (a channel given by name, a missing `channels:history`
scope), the message is posted again: a repeat, never a loss. A passing failure (rate limit,
network) is raised, so the job retries and looks again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.errors import IntegrationError
from bot.logs import get_logger
from bot.reporting.base import Find
from bot.slack.core import message_ref
from integrations.slack.client import SlackPort

log = get_logger(__name__)
MARGIN = timedelta(minutes=5)


def keyed_finder(port: SlackPort, channel: str, key: str, *, thread_ts: str | None = None) -> Find:
    """The `find` for a message keyed `key` in `channel` (in the thread `thread_ts` if given)."""

    def find(claimed_at: datetime) -> str | None:
        try:
            found = port.find_keyed(
                channel, key, oldest=(claimed_at - MARGIN).timestamp(), thread_ts=thread_ts
            )
        except IntegrationError as exc:
            if exc.retryable:
                raise
            log.warning("slack: cannot look for a message a dead sender posted", key=key, error=str(exc))
            return None
        if found is None:
            return None
        log.info("slack: found the message a dead sender posted", key=key, ts=found.ts)
        return message_ref(found.channel, found.ts)

    return find
