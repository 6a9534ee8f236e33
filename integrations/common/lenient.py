"""Lenient on optional fields, strict on essential ones.

Parsers read strictly: a value with the wrong shape raises `MalformedPayload` naming its path.
`read_leniently` runs such a reader over a document and, when the value at fault is *not*
essential, removes it from (a copy of) the document, records a `FieldWarning` and reads again;
the bad optional field comes out empty instead of losing the whole alert. A bad essential field
(the source's own id, the status, the name, or any object that holds one of them) is still
refused. An error without a path (the body is not JSON, an unknown status word) is always refused.

Screens and parsers run the same readers through the same function, so they empty the same
fields and agree on every payload.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.errors import MalformedPayload
from integrations.common.payload import JsonObject

T = TypeVar("T")
Segment = str | int

# A document is re-read at most this many times; past it the payload is refused (a payload with
# that many malformed fields is not worth guessing at, and re-reading is not free).
MAX_EMPTIED_FIELDS = 32

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INDEX = re.compile(r"\[(\d+)\]")
_QUOTED = re.compile(r'\[("(?:[^"\\]|\\.)*")\]')
_ANY_INDEX = re.compile(r"\[\*\]")


@dataclass(frozen=True, slots=True)
class FieldWarning:
    """An optional field that was malformed and has been left empty."""

    path: str  # JSON path of the field, as in the refusal it replaces
    reason: str  # what was wrong with it ("incident.ended_at: not an ISO 8601 time: 'null'")

    @property
    def field(self) -> str:
        """The path with every array index as ``[*]`` (a metric label that stays small)."""
        segments = split_path(self.path)
        if segments is None:
            return self.path
        return _render(tuple("*" if isinstance(s, int) else s for s in segments))


def split_path(path: str, *, wildcards: bool = False) -> tuple[Segment, ...] | None:
    """``data.essentials.alertTargetIDs[1]`` → ("data", "essentials", "alertTargetIDs", 1).

    Reads the paths `integrations.common.payload.join` writes (and, with `wildcards`, ``[*]``
    for any index, as "*"); None for anything else."""
    segments: list[Segment] = []
    position = 0
    while position < len(path):
        found: re.Match[str] | None
        if path[position] == ".":
            found = _KEY.match(path, position + 1) if segments else None
            if found is None:
                return None
            segments.append(found.group(0))
        elif (found := _INDEX.match(path, position)) is not None:
            segments.append(int(found.group(1)))
        elif (found := _QUOTED.match(path, position)) is not None:
            segments.append(str(json.loads(found.group(1))))
        elif wildcards and (found := _ANY_INDEX.match(path, position)) is not None:
            segments.append("*")
        elif not segments and (found := _KEY.match(path, position)) is not None:
            segments.append(found.group(0))
        else:
            return None
        position = found.end()
    return tuple(segments)


def _render(segments: Sequence[Segment | str]) -> str:
    out = ""
    for segment in segments:
        if segment == "*" or isinstance(segment, int):
            out += f"[{segment}]"
        elif _KEY.fullmatch(segment):
            out += f".{segment}" if out else segment
        else:
            out += f"[{json.dumps(segment)}]"
    return out


class EssentialFields:
    """The fields whose bad value refuses a payload, as paths (``alerts[*].status``).

    A path is essential when it is one of the patterns or holds one (``data.essentials`` holds
    ``data.essentials.alertId``): a container that cannot be read loses what it holds."""

    def __init__(self, *patterns: str) -> None:
        parsed: list[tuple[Segment, ...]] = []
        for pattern in patterns:
            segments = split_path(pattern, wildcards=True)
            if segments is None:
                raise ValueError(f"not a field path: {pattern!r}")
            parsed.append(segments)
        self.patterns: tuple[str, ...] = patterns
        # Every pattern and every container on its way, with "*" for indices: one set lookup.
        self._covered = {pattern[:length] for pattern in parsed for length in range(len(pattern) + 1)}

    def covers(self, segments: Sequence[Segment]) -> bool:
        """Whether the field at `segments` is essential (the document itself always is)."""
        return tuple("*" if isinstance(s, int) else s for s in segments) in self._covered

    def under(self, prefix: str) -> EssentialFields:
        """These fields as seen from inside `prefix` (SNS carries an EventBridge event in ``Message``)."""
        return EssentialFields(*(f"{prefix}.{pattern}" for pattern in self.patterns), prefix)


def read_leniently(
    read: Callable[[JsonObject], T],
    document: JsonObject,
    essential: EssentialFields,
    *,
    root: str = "",
    failed: MalformedPayload | None = None,
) -> tuple[T, tuple[FieldWarning, ...]]:
    """`read(document)`, emptying each malformed optional field it complains about.

    `root` is the path of `document` inside the payload (``alerts[3]`` for one alert of a group):
    error paths are absolute, and only fields under `root` can be emptied here. `failed` is what
    `read(document)` already raised, when the caller tried it first."""
    warnings: list[FieldWarning] = []
    first_errors: dict[str, MalformedPayload] = {}
    prefix = split_path(root) if root else ()
    if prefix is None:
        raise ValueError(f"not a field path: {root!r}")
    error = failed
    while True:
        if error is None:
            try:
                return read(document), tuple(warnings)
            except MalformedPayload as exc:
                error = exc
        document = _emptied(error, document, essential, prefix, first_errors, len(warnings))
        warnings.append(FieldWarning(error.path or "", error.reason))
        error = None


def _emptied(
    exc: MalformedPayload,
    document: JsonObject,
    essential: EssentialFields,
    prefix: tuple[Segment, ...],
    first_errors: dict[str, MalformedPayload],
    emptied: int,
) -> JsonObject:
    """`document` without the field `exc` complains about; re-raises when that is not allowed."""
    segments = split_path(exc.path) if exc.path is not None else None
    if (
        exc.path is None
        or segments is None
        or essential.covers(segments)
        or segments[: len(prefix)] != prefix
        or emptied >= MAX_EMPTIED_FIELDS
    ):
        raise exc
    if exc.path in first_errors:  # emptying it did not help: refuse, as first reported
        raise first_errors[exc.path] from None
    pruned = _without(document, segments[len(prefix) :])
    if not isinstance(pruned, dict):
        raise exc
    first_errors[exc.path] = exc
    return pruned


def _without(value: Any, segments: Sequence[Segment]) -> Any | None:
    """A copy of `value` without the item at `segments` (copying only along the way), or None
    when there is no such item. A JSON object serialised in a string (an SNS ``Message``) is
    entered and written back."""
    if not segments:
        return None
    head, rest = segments[0], segments[1:]
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            return None
        inner = _without(decoded, segments)
        return None if inner is None else json.dumps(inner)
    if isinstance(value, Mapping) and isinstance(head, str) and head in value:
        copy = dict(value)
        if rest:
            child = _without(value[head], rest)
            if child is None:
                return None
            copy[head] = child
        else:
            del copy[head]
        return copy
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value):
        items = list(value)
        if rest:
            child = _without(value[head], rest)
            if child is None:
                return None
            items[head] = child
        else:
            del items[head]
        return items
    return None
