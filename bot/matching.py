"""Label-style matchers shared by silences, inhibition rules and runbook rules.

One "muter" idea, as in Alertmanager: a matcher names an alert field or label, an operator
(= != =~ !~) and a value; regexes match the whole value.

Regexes run on RE2 (google-re2), the engine and dialect Alertmanager uses (Go's regexp is RE2):
time linear in the value, whatever the pattern. Anyone who may silence may write a pattern, and
a backtracking engine let `(a+)+$` against 28 characters stall the server for 12 s. Patterns RE2
cannot run in linear time (look-around, back-references) are refused when the matcher is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from bot.alerts.normalized import NormalizedAlert
from bot.errors import ConductorError

OPERATORS = ("=~", "!~", "!=", "=")
FIELDS = ("name", "source", "severity", "status", "provider", "resource_type", "resource_id", "resource_name")


class InvalidMatcher(ConductorError):
    """A matcher that cannot be understood."""


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise InvalidMatcher(f"matcher {self.name}: unknown operator {self.op!r}")
        if not (self.name in FIELDS or (self.name.startswith("label:") and len(self.name) > 6)):
            raise InvalidMatcher(f"matcher {self.name!r}: use one of {', '.join(FIELDS)} or label:<key>")
        if self.op in ("=~", "!~"):
            try:
                _compiled(self.value)
            except re2.error as exc:
                reason = (
                    exc.args[0].decode(errors="replace")
                    if exc.args and isinstance(exc.args[0], bytes)
                    else exc
                )
                raise InvalidMatcher(
                    f"matcher {self.name}{self.op}{self.value}: bad regex: {reason}"
                ) from None

    def matches(self, fields: Mapping[str, str]) -> bool:
        actual = fields.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = _compiled(self.value).fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Matcher:
        return cls(str(data["name"]), str(data.get("op", "=")), str(data["value"]))


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is reported as InvalidMatcher, not on stderr


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re2._Regexp[str]:
    return re2.compile(pattern, _OPTIONS)


def parse_matcher(text: str) -> Matcher:
    """`alertname=HighCPU`, `service=~"api.*"`, `severity!=info`. Bare names are labels
    unless they are alert fields; `alertname` means the alert name."""
    for op in OPERATORS:
        name, sep, value = text.partition(op)
        if sep and name.strip():
            key = name.strip()
            if key == "alertname":
                key = "name"
            elif key not in FIELDS and not key.startswith("label:"):
                key = f"label:{key}"
            return Matcher(key, op, value.strip().strip('"').strip("'"))
    raise InvalidMatcher(f"matcher {text!r}: expected NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX")


def alert_fields(alert: NormalizedAlert) -> dict[str, str]:
    """The flat view matchers look at."""
    fields = {
        "name": alert.name,
        "source": alert.source,
        "severity": alert.severity.value,
        "status": alert.status.value,
        "provider": alert.resource.provider.value,
        "resource_type": alert.resource.type or "",
        "resource_id": alert.resource.id or "",
        "resource_name": alert.resource.name or "",
    }
    for key, value in alert.labels.items():
        fields[f"label:{key}"] = value
    return fields


def all_match(matchers: Iterable[Matcher], fields: Mapping[str, str]) -> bool:
    return all(m.matches(fields) for m in matchers)
