"""Every "why" the bot gives is a `ReasonCode`: a stable code that tests and dashboards compare,
and a sentence for people. Codes are unique within their enum and every one has a message."""

from __future__ import annotations

import pytest

from bot.engine.gate import GateReason
from bot.engine.requests import BlockedBy
from bot.incidents.muting import MuteReason
from bot.pipeline.decide import DecisionCode
from bot.reasons import ReasonCode
from tests.structure.walk import first_party_classes


def reason_enums() -> list[type[ReasonCode]]:
    return [cls for cls in first_party_classes() if issubclass(cls, ReasonCode) and cls is not ReasonCode]


def test_the_walk_finds_the_reason_enums() -> None:
    assert {GateReason, BlockedBy, DecisionCode, MuteReason} <= set(reason_enums())


@pytest.mark.parametrize("enum", reason_enums(), ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_codes_are_snake_case_and_every_code_has_a_message(enum: type[ReasonCode]) -> None:
    for member in enum:
        assert member.value == member.value.lower() and " " not in member.value, member
        assert member.message.strip(), member


def test_say_fills_in_the_facts_and_the_code_compares_as_its_string() -> None:
    assert MuteReason.SILENCED.say(by=12) == "silenced:12"
    assert BlockedBy("budget_exhausted") is BlockedBy.BUDGET
    assert f"{GateReason.FLAPPING}" == "flapping"
