"""Text helpers for Slack messages: escaping, redaction, truncation, times and durations.

Everything that comes from outside (alert titles, runbook output, user comments) goes through
`safe()` before it reaches a message: secrets are masked, and `&`, `<`, `>` are escaped so a
title such as `<!channel>` cannot ping a whole channel.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Slack tokens (bot, user, app-level, refresh, config) and webhook URLs.
    (re.compile(r"\bxox[abcdeoprs]-[A-Za-z0-9-]+"), "xox?-<redacted>"),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), "xapp-<redacted>"),
    (re.compile(r"https://hooks\.slack\.com/[^\s>|]+"), "https://hooks.slack.com/<redacted>"),
    # AWS access key ids.
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "<redacted-aws-key>"),
    # Bearer tokens in headers that ended up in an error text.
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 <redacted>"),
    # key=value / key: value where the key names a secret.
    (
        re.compile(
            r"(?i)\b((?:[a-z0-9_-]*?)(?:token|secret|password|passwd|api[_-]?key|signature|credential)s?)"
            r"(\"?\s*[:=]\s*\"?)[^\s\"',;&]+"
        ),
        r"\1\2<redacted>",
    ),
)

_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,}\Z")
_SECRET_KEY = re.compile(r"(?i)(token|secret|password|passwd|api[_-]?key|signature|credential|authorization)")


def is_secret_key(name: object) -> bool:
    """True for a mapping key that names a secret (`api_key`, `client_secret`, `token`, ...)."""
    return bool(_SECRET_KEY.search(str(name)))


def mask_secrets(value: Any) -> Any:
    """A copy of a JSON-able value with the values of secret-named keys replaced."""
    if isinstance(value, dict):
        return {k: "<redacted>" if is_secret_key(k) else mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    return value


def redact(text: str) -> str:
    """Mask anything that looks like a token, key or password."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def safe(text: object, limit: int = 2900) -> str:
    """Outside text made fit for mrkdwn: redacted, escaped, truncated to `limit` characters."""
    return truncate(escape(redact(str(text))), limit)


def plain(text: object, limit: int = 2900) -> str:
    """Outside text for `plain_text` objects (headers, button labels): redacted, truncated.
    Not for a message's `text` fallback, which Slack parses as mrkdwn: use `safe` there."""
    return truncate(redact(str(text)), limit)


def code(text: object, limit: int = 200) -> str:
    """Inline code: backticks inside would end it early, so they become quotes."""
    return "`" + safe(text, limit).replace("`", "'") + "`"


def compact(value: Any, limit: int = 120) -> str:
    """A short one-line rendering of a JSON-able value (plan params, before/after values)."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(mask_secrets(value), sort_keys=True, default=str, separators=(", ", ": "))
        except (TypeError, ValueError):
            text = repr(value)
    return truncate(redact(text), limit)


def format_duration(delta: timedelta) -> str:
    """Human durations: `45s`, `3m 12s`, `2h 5m`, `1d 3h`. Negative becomes `0s`."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def format_time(moment: datetime) -> str:
    """`2026-11-23 14:05 UTC` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def slack_time(moment: datetime) -> str:
    """A date Slack shows in each reader's own time zone, falling back to UTC text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{format_time(moment)}>"


def mention(user: str) -> str:
    """`<@U123>` for a Slack user id; anything else (a CLI user, `system`) as escaped text."""
    if _SLACK_ID.match(user):
        return f"<@{user}>"
    return safe(user, 80)
