"""What crosses the Slack boundary: who acted (`SlackActor`) and what is sent back (`SlackMessage`).

The Bolt listeners (`integrations.slack.bolt_app`) build the first from Slack's payloads and send
the second; the bot's core (`bot.slack`) takes and gives them without knowing Slack's wire format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SlackActor:
    """The Slack user behind a command or click."""

    user_id: str
    user_name: str = ""
    channel_id: str | None = None
    team_id: str | None = None

    @property
    def audit_name(self) -> str:
        return f"slack:{self.user_id}"


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """A renderer's output: `text` is the notification / accessibility fallback."""

    text: str
    blocks: list[Block]
