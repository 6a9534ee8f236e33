"""Outgoing Slack calls: a small typed surface over slack_sdk's WebClient.

`SlackPort` is the interface reporting depends on; `SlackPoster` is the real implementation
(tests run it against `tests.fakes.slack.FakeSlack` over a socket). Every Slack failure becomes
`IntegrationError(retryable=...)`: rate limits, 5xx and network trouble are retryable, the rest
(channel_not_found, not_in_channel, invalid_auth, ...) are not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.web import SlackResponse

from bot.errors import IntegrationError
from integrations.slack.settings import SlackSecrets, with_trailing_slash

Block = dict[str, Any]
T = TypeVar("T")

# Slack error codes that mean "try again later" even when the HTTP status is 200.
_RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackRateLimited(IntegrationError):
    """Slack answered 429; `retry_after` is its Retry-After in seconds when given."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        self.retry_after = retry_after
        super().__init__(message, retryable=True, system="slack")


@dataclass(frozen=True, slots=True)
class PostedMessage:
    channel: str  # the channel id Slack answered with (a name given on input becomes an id)
    ts: str


METADATA_EVENT = "conductor_notification"  # the metadata event_type of messages the log keeps


def key_metadata(key: str) -> dict[str, Any]:
    """Slack message metadata carrying a notification-log key (so a repeat can be found)."""
    return {"event_type": METADATA_EVENT, "event_payload": {"key": key}}


def carries_key(message: Any, key: str) -> bool:
    """True when a message of conversations.history/replies carries `key` in its metadata."""
    metadata = message.get("metadata") if isinstance(message, dict) else None
    if not isinstance(metadata, dict) or metadata.get("event_type") != METADATA_EVENT:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, dict) and payload.get("key") == key


class SlackPort(Protocol):
    """What the bot needs from Slack. `SlackPoster` is the real one; tests may use the fake API.

    `key` on the posts is the notification-log key, sent as message metadata; `find_keyed` looks
    for a message carrying it (a sender that died after Slack accepted its post)."""

    def post_parent(
        self, channel: str, blocks: Sequence[Block], text: str, *, key: str | None = None
    ) -> PostedMessage: ...

    def find_keyed(
        self, channel: str, key: str, *, oldest: float, thread_ts: str | None = None
    ) -> PostedMessage | None: ...

    def update(self, channel: str, ts: str, blocks: Sequence[Block], text: str) -> None: ...

    def post_in_thread(
        self, channel: str, thread_ts: str, blocks: Sequence[Block], text: str, *, key: str | None = None
    ) -> PostedMessage: ...

    def post_ephemeral(
        self, channel: str, user: str, text: str, *, blocks: Sequence[Block] | None = None
    ) -> None: ...

    def upload_png(
        self, channel: str, thread_ts: str, png_bytes: bytes, filename: str, title: str
    ) -> str: ...

    def usergroup_members(self, group_id: str) -> frozenset[str]: ...


def _retry_after(response: SlackResponse) -> float | None:
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    raw = headers.get("retry-after")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def to_integration_error(method: str, exc: SlackClientError | OSError) -> IntegrationError:
    """Map a slack_sdk or network failure to our error, with a message free of tokens."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(getattr(response, "status_code", 0) or 0)
        data = response.data if isinstance(response.data, dict) else {}
        code = str(data.get("error") or f"http_{status}")
        message = f"slack {method} failed: {code} (HTTP {status})"
        if status == 429 or code in {"ratelimited", "rate_limited"}:
            return SlackRateLimited(message, retry_after=_retry_after(response))
        return IntegrationError(message, retryable=status >= 500 or code in _RETRYABLE_ERRORS, system="slack")
    # Network trouble, or the file upload step answering non-200: another attempt may work.
    retryable = isinstance(exc, SlackRequestError | OSError)
    message = f"slack {method} failed: {type(exc).__name__}"
    return IntegrationError(message, retryable=retryable, system="slack")


class SlackPoster:
    """The real `SlackPort` over a `slack_sdk.WebClient`."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    @classmethod
    def from_secrets(cls, secrets: SlackSecrets, *, timeout: int = 10, retries: bool = True) -> SlackPoster:
        """`retries=False`: slack_sdk sends each call once (no retry handlers), for callers whose
        own layer retries (the reporting jobs)."""
        return cls(
            WebClient(
                token=secrets.bot_token,
                base_url=with_trailing_slash(secrets.api_url),
                timeout=timeout,
                retry_handlers=None if retries else [],
            )
        )

    @classmethod
    def from_token(cls, token: str, api_url: str, *, timeout: int = 10) -> SlackPoster:
        """A poster from a bot token alone (the sweeps post their reports with it)."""
        return cls(WebClient(token=token, base_url=api_url, timeout=timeout))

    def _call(self, method: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (SlackClientError, OSError) as exc:
            raise to_integration_error(method, exc) from None

    def post_parent(
        self, channel: str, blocks: Sequence[Block], text: str, *, key: str | None = None
    ) -> PostedMessage:
        """Post a top-level message; its `ts` is the thread everything else goes into."""
        response = self._call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(
                channel=channel,
                blocks=list(blocks),
                text=text,
                unfurl_links=False,
                unfurl_media=False,
                metadata=key_metadata(key) if key else None,
            ),
        )
        return PostedMessage(channel=str(response["channel"]), ts=str(response["ts"]))

    def find_keyed(
        self, channel: str, key: str, *, oldest: float, thread_ts: str | None = None
    ) -> PostedMessage | None:
        """The message posted since `oldest` (Unix seconds) whose metadata carries `key`: top
        level (conversations.history) or, with `thread_ts`, in that thread (conversations.replies).
        Needs the `channels:history` scope (`groups:history` for private channels)."""
        cursor: str | None = None
        while True:
            response = self._history_page(channel, thread_ts, oldest=oldest, cursor=cursor)
            for message in response.get("messages") or []:
                if carries_key(message, key):
                    return PostedMessage(channel=channel, ts=str(message["ts"]))
            meta = response.get("response_metadata") or {}
            cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
            if not cursor:
                return None

    def _history_page(
        self, channel: str, thread_ts: str | None, *, oldest: float, cursor: str | None
    ) -> SlackResponse:
        since = f"{oldest:.6f}"
        if thread_ts is None:
            return self._call(
                "conversations.history",
                lambda: self.client.conversations_history(
                    channel=channel, oldest=since, include_all_metadata=True, limit=200, cursor=cursor
                ),
            )
        return self._call(
            "conversations.replies",
            lambda: self.client.conversations_replies(
                channel=channel,
                ts=thread_ts,
                oldest=since,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            ),
        )

    def update(self, channel: str, ts: str, blocks: Sequence[Block], text: str) -> None:
        """Replace a message in place (the incident's parent message)."""
        self._call(
            "chat.update",
            lambda: self.client.chat_update(channel=channel, ts=ts, blocks=list(blocks), text=text),
        )

    def post_in_thread(
        self, channel: str, thread_ts: str, blocks: Sequence[Block], text: str, *, key: str | None = None
    ) -> PostedMessage:
        response = self._call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                blocks=list(blocks),
                text=text,
                unfurl_links=False,
                unfurl_media=False,
                metadata=key_metadata(key) if key else None,
            ),
        )
        return PostedMessage(channel=str(response["channel"]), ts=str(response["ts"]))

    def post_ephemeral(
        self, channel: str, user: str, text: str, *, blocks: Sequence[Block] | None = None
    ) -> None:
        """A message only `user` sees (refusals, usage help)."""
        self._call(
            "chat.postEphemeral",
            lambda: self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=list(blocks) if blocks else None
            ),
        )

    def upload_png(self, channel: str, thread_ts: str, png_bytes: bytes, filename: str, title: str) -> str:
        """Upload a PNG into a thread (files.getUploadURLExternal, the upload, then
        files.completeUploadExternal) and return the file id."""
        response = self._call(
            "files_upload_v2",
            lambda: self.client.files_upload_v2(
                channel=channel, thread_ts=thread_ts, file=png_bytes, filename=filename, title=title
            ),
        )
        file = response.get("file") or {}
        return str(file.get("id", "")) if isinstance(file, dict) else ""

    def usergroup_members(self, group_id: str) -> frozenset[str]:
        """User ids in a Slack user group (for approver checks)."""
        response = self._call(
            "usergroups.users.list", lambda: self.client.usergroups_users_list(usergroup=group_id)
        )
        users = response.get("users") or []
        return frozenset(str(u) for u in users)
