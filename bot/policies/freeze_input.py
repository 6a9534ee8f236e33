"""A freeze as people type it (CLI options, a Slack command, an API body), checked into
`FreezeSettings`; a bad value is a `InvalidFreeze` naming it, and nothing is stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from bot.config.policies import SCOPE_FIELDS, FreezeSettings
from bot.errors import ConductorError
from bot.matching import OPERATORS
from bot.timeparse import parse_duration


class InvalidFreeze(ConductorError):
    """A freeze that cannot be stored: the message names the field and the reason."""


def scope_match(text: str) -> dict[str, str]:
    """`service=orders`, `runbook=~"aws\\.ecs\\..*"`, `provider!=azure` → a scope matcher."""
    for op in OPERATORS:
        name, sep, value = text.partition(op)
        if sep and name.strip():
            key = name.strip()
            if key not in SCOPE_FIELDS:
                raise InvalidFreeze(f"matcher {text!r}: the scope is one of {', '.join(SCOPE_FIELDS)}")
            return {"name": key, "op": op, "value": value.strip().strip('"').strip("'")}
    raise InvalidFreeze(f"matcher {text!r}: expected NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX")


def checked(values: dict[str, Any]) -> FreezeSettings:
    try:
        return FreezeSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'freeze'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise InvalidFreeze(problems) from None


def _length(value: str | timedelta) -> timedelta:
    return value if isinstance(value, timedelta) else parse_duration(value)


def freeze_from_options(
    *,
    name: str,
    matchers: Sequence[str],
    now: datetime,
    duration: str | timedelta | None = None,
    until: datetime | None = None,
    starts: datetime | None = None,
    cron: str | None = None,
    window: str | timedelta | None = None,
    timezone: str = "UTC",
    block: bool = False,
    maintenance: bool = False,
    comment: str = "",
) -> FreezeSettings:
    """One-off: `duration` (from `starts`, default now) or `until`; recurring: `cron` + `window`."""
    values: dict[str, Any] = {
        "name": name,
        "match": [scope_match(m) for m in matchers],
        "timezone": timezone,
        "block": block,
        "maintenance": maintenance,
        "comment": comment,
    }
    if cron is not None:
        if duration or until or starts:
            raise InvalidFreeze("a recurring freeze (--cron) takes --window, not --duration/--until/--starts")
        if not window:
            raise InvalidFreeze("a recurring freeze (--cron) needs --window, e.g. 2h")
        values.update(cron=cron, duration_minutes=_length(window).total_seconds() / 60)
        return checked(values)
    if duration and until:
        raise InvalidFreeze("give --duration or --until, not both")
    begin = starts or now
    if duration:
        try:
            until = begin + _length(duration)
        except OverflowError:
            raise InvalidFreeze("the freeze would end past the calendar's last day") from None
    if until is None:
        raise InvalidFreeze("a one-off freeze needs --duration or --until (or --cron and --window)")
    values.update(starts_at=begin, ends_at=until)
    return checked(values)
