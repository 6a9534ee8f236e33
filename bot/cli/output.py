"""How every command prints: tables and text through `console`, JSON Lines through `print_json_line`,
errors through `write_error`.

Off a terminal (a pipe, a file, CI logs) nothing wraps: a line is as long as its content, so ids,
tables and JSON are never split. Every `--json` prints JSON Lines: one compact object per line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console

# A terminal gets rich's width; anything else an unbounded one (rich needs a number).
_UNBOUNDED = 100_000


def _console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=_UNBOUNDED, soft_wrap=True)


console = _console()
err_console = _console(stderr=True)


def json_line(obj: Any) -> str:
    """`obj` as one line of JSON (no spaces, UTF-8 kept, datetimes as ISO strings)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)


def print_json_line(obj: Any) -> None:
    """Write `obj` as one JSON Lines record on stdout (never through rich: no markup, no wrap)."""
    sys.stdout.write(json_line(obj) + "\n")


def print_json_lines(rows: Iterable[Any]) -> None:
    """Write each of `rows` as one JSON Lines record (what every list command's `--json` prints)."""
    for row in rows:
        print_json_line(row)


def write_error(line: str) -> None:
    """A message for a person on stderr, as plain text (scripts grep it; it never wraps)."""
    sys.stderr.write(line.rstrip("\n") + "\n")
