"""Structured logs: human by default, JSON on request; a request id on every line; secrets redacted.

Redaction is the last step before a line is rendered, after the traceback (if any) has become
text, so it covers the message, every field and the traceback alike, for our loggers and the
libraries' (uvicorn, SDKs) and for exceptions nobody caught (`sys.excepthook`,
`threading.excepthook`). It removes what looks like a credential (tokens, Authorization
values, passwords in URLs, secret-named fields) and every value `register_secrets` was given:
the configured secrets themselves, whatever their shape. Tracebacks are plain text without
local variables (a rich traceback's locals once printed request headers and tokens).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, MutableMapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any

import structlog

request_id_var: ContextVar[str] = ContextVar("request_id", default="")

# Values that look like credentials, wherever they appear in a message or field.
_SECRET_PATTERNS = [
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{6,}"),  # Slack tokens
    re.compile(r"xapp-[A-Za-z0-9-]{6,}"),  # Slack app tokens
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{8,}"),
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key ids
    re.compile(
        r"(?i)((?:password|passwd|secret|token|api[_-]?key|routing[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
    ),
    re.compile(r"(?i)(://[^:/\s]+:)[^@/\s]+(@)"),  # passwords inside URLs
]
_SECRET_KEYS = re.compile(
    r"(?i)(password|passwd|secret|token|authorization|api[_-]?key|signature|routing[_-]?key|cookie|credential)"
)
REDACTED = "[REDACTED]"
# Shorter values are not redacted by value (they would blank out ordinary words).
MIN_SECRET_LENGTH = 6
_known_secrets: tuple[str, ...] = ()


def register_secrets(values: Iterable[str]) -> None:
    """Redact these exact values (the configured secrets) wherever they appear in a log line."""
    global _known_secrets
    found = {v for v in (*_known_secrets, *values) if len(v) >= MIN_SECRET_LENGTH}
    _known_secrets = tuple(sorted(found, key=len, reverse=True))  # longest first: no partial leftovers


def redact_text(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        if pattern.groups >= 2:
            text = pattern.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(2)}", text)
        elif pattern.groups == 1:
            text = pattern.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEYS.search(key) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value


def _redact(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key == "event" and isinstance(event_dict[key], str):
            event_dict[key] = redact_text(event_dict[key])
        elif key != "event":
            event_dict[key] = redact_value(key, event_dict[key])
    return event_dict


def _add_request_id(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    request_id = request_id_var.get()
    if request_id and "request_id" not in event_dict:
        event_dict["request_id"] = request_id
    return event_dict


class _CurrentStderr:
    """sys.stderr as it is at each write (test runners and daemons swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_PROCESSORS: list[Any] = []


def configure_logging(*, level: str = "info", json: bool = False) -> None:
    """Route structlog and the standard library (uvicorn, SDKs) through one renderer."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # One list object, refilled on every call: loggers cached on first use keep the list they were
    # built with, so configuring again (the CLI, then `serve`) must not leave them on an old one.
    _PROCESSORS[:] = [*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter]
    structlog.configure(
        processors=_PROCESSORS,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The traceback becomes plain text (no locals) here, so the redaction below covers it
            # and the JSON line keeps it under "exception".
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
        foreign_pre_chain=shared,
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("botocore", "urllib3", "azure", "httpx", "httpcore", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    logging.getLogger("uncaught").critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or isinstance(args.exc_value, SystemExit):
        return
    thread = args.thread.name if args.thread is not None else "?"
    logging.getLogger("uncaught").error(
        f"uncaught exception in thread {thread}",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
