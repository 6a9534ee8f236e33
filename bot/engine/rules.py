"""Rules choose a runbook for an alert; the first rule that matches wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.alerts.normalized import NormalizedAlert
from bot.config.rules import RuleSettings
from bot.engine.templating import render
from bot.matching import Matcher, alert_fields, all_match


@dataclass(frozen=True)
class RuleMatch:
    index: int
    rule: RuleSettings
    target: str
    params: dict[str, Any]


def rule_matchers(rule: RuleSettings) -> list[Matcher]:
    return [Matcher(m.name, m.op, m.value) for m in rule.match]


def match_rule(rules: Sequence[RuleSettings], alert: NormalizedAlert) -> RuleMatch | None:
    """The first rule whose matchers all match, with its target and params rendered.

    Raises TemplateError when a matching rule's template cannot be filled from this alert.
    """
    fields = alert_fields(alert)
    for index, rule in enumerate(rules):
        if not all_match(rule_matchers(rule), fields):
            continue
        params = {k: render(v, alert) if isinstance(v, str) else v for k, v in rule.params.items()}
        return RuleMatch(index=index, rule=rule, target=render(rule.target, alert), params=params)
    return None
