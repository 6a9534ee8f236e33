"""What `check-config` checks in a rule beyond its own keys: that the runbook exists, acts on the
target's kind, and accepts the params — validated against the runbook's own parameter model, so
`step = "two"` is refused here rather than at 3 a.m. when the rule first fires.

A param given as a template (`"{labels[replicas]}"`) is only known when an alert arrives; it is
left out of the check, and what its absence alone causes (a missing field, "give exactly one of")
is not reported.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.config.rules import RuleSettings
from bot.config.suggest import did_you_mean


def _is_template(value: object) -> bool:
    return isinstance(value, str) and "{" in value and "}" in value


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def params_problems(prefix: str, model: type[BaseModel], params: Mapping[str, Any]) -> list[str]:
    """`prefix.key: reason` for each param the runbook's model would reject."""
    literal = {k: v for k, v in params.items() if not _is_template(v)}
    templated = set(params) - set(literal)
    try:
        model.model_validate(literal)
    except ValidationError as exc:
        problems = []
        for item in exc.errors():
            loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            if templated and (item["type"] == "missing" or not loc):
                continue  # a templated param may provide it
            if item["type"] == "extra_forbidden":
                name = str(loc[-1])
                reason = "unknown parameter" + did_you_mean(name, model.model_fields)
            else:
                reason = str(item["msg"]).removeprefix("Value error, ")
                if item["type"] != "missing" and loc:
                    reason += f" (got {item['input']!r})"
            where = f"{prefix}.{_loc(loc)}" if loc else prefix
            problems.append(f"{where}: {reason}")
        return problems
    return []


def rule_problems(index: int, rule: RuleSettings) -> list[str]:
    """Every problem of rule `index` that needs the runbook registry (load runbooks first)."""
    from bot.runbook_kit.spec import REGISTRY
    from bot.runbook_kit.targets import TARGET_KINDS

    problems: list[str] = []
    spec = REGISTRY.get(rule.runbook)
    if spec is None:
        hint = did_you_mean(rule.runbook, REGISTRY.ids())
        problems.append(f'rules[{index}].runbook: no runbook named "{rule.runbook}"{hint}')
    kind = rule.target.partition("/")[0]
    if kind not in TARGET_KINDS:
        problems.append(
            f"rules[{index}].target: unknown target kind {kind!r}{did_you_mean(kind, TARGET_KINDS)}"
        )
    elif spec is not None and spec.target_kind != kind:
        problems.append(f"rules[{index}].target: {rule.runbook} acts on {spec.target_kind}, not {kind}")
    if spec is not None:
        problems += params_problems(f"rules[{index}].params", spec.params, rule.params)
    return problems


def raw_rule_problems(raw_rules: object) -> list[str]:
    """`rule_problems` for the rules of a config that failed validation elsewhere, so one
    `check-config` lists every problem: each rule that is valid on its own is checked."""
    if not isinstance(raw_rules, list):
        return []
    problems: list[str] = []
    for i, raw in enumerate(raw_rules):
        try:
            rule = RuleSettings.model_validate(raw)
        except ValidationError:
            continue  # already reported by the settings' own validation
        problems += rule_problems(i, rule)
    return problems


def rule_problems_of_file(path: Path | None) -> list[str]:
    """`raw_rule_problems` for the config file at `path` (nothing if it cannot be read: that
    problem is reported by loading it)."""
    from bot.runbook_kit.loader import load_builtin_runbooks

    if path is None:
        return []
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    load_builtin_runbooks()
    return raw_rule_problems(raw.get("rules"))
