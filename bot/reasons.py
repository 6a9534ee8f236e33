"""Named reasons: a stable code for every "why" the bot gives (logged, counted, compared by tests)
and the sentence a person reads, kept side by side.

    class GateReason(ReasonCode):
        FLAPPING = "flapping", "flapping: the alert changes state too often to act on"

`GateReason.FLAPPING == "flapping"`; `GateReason.FLAPPING.say()` is the sentence, with any
`{placeholders}` filled from keyword arguments.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class ReasonCode(StrEnum):
    """A StrEnum whose members are declared as `CODE = "code", "message template"`."""

    message: str

    def __new__(cls, code: str, message: str = "") -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.message = message or code.replace("_", " ")
        return member

    def say(self, **facts: object) -> str:
        """The message with its `{placeholders}` filled in."""
        return self.message.format(**facts)
