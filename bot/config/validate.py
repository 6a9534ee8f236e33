"""Checks that need more than one section: rules name real runbooks, matchers are valid."""

from __future__ import annotations

from bot.config.root import Settings
from bot.errors import ConductorError, ConfigError
from bot.matching import Matcher


def _matcher_problems(path: str, name: str, op: str, value: str) -> list[str]:
    try:
        Matcher(name, op, value)
    except ConductorError as exc:
        return [f"{path}: {exc}"]
    return []


def validate_references(settings: Settings) -> None:
    """Raise ConfigError listing every cross-reference problem."""
    from bot.runbooks.loader import load_builtin_runbooks, load_runbook_dirs
    from bot.runbooks.spec import REGISTRY
    from bot.runbooks.targets import TARGET_KINDS

    problems: list[str] = []
    load_builtin_runbooks()
    try:
        load_runbook_dirs(list(settings.runbooks.directories))
    except ConductorError as exc:
        problems.append(f"runbooks.directories: {exc}")
    for i, rule in enumerate(settings.rules):
        spec = REGISTRY.get(rule.runbook)
        if spec is None:
            problems.append(f'rules[{i}].runbook: no runbook named "{rule.runbook}"')
        kind = rule.target.partition("/")[0]
        if kind not in TARGET_KINDS:
            problems.append(f"rules[{i}].target: unknown target kind {kind!r}")
        elif spec is not None and spec.target_kind != kind:
            problems.append(f"rules[{i}].target: {rule.runbook} acts on {spec.target_kind}, not {kind}")
        for j, m in enumerate(rule.match):
            problems += _matcher_problems(f"rules[{i}].match[{j}]", m.name, m.op, m.value)
    for i, silence in enumerate(settings.silences):
        for j, m in enumerate(silence.matchers):
            problems += _matcher_problems(f"silences[{i}].matchers[{j}]", m.name, m.op, m.value)
    for i, inhibit in enumerate(settings.inhibit_rules):
        for part in ("source_match", "target_match"):
            for j, m in enumerate(getattr(inhibit, part)):
                problems += _matcher_problems(f"inhibit_rules[{i}].{part}[{j}]", m.name, m.op, m.value)
    for key in settings.approvals.approvers:
        if key.startswith("risk:"):
            if key not in ("risk:low", "risk:medium", "risk:high"):
                problems.append(f"approvals.approvers.{key}: use risk:low, risk:medium or risk:high")
        elif REGISTRY.get(key) is None:
            problems.append(f'approvals.approvers.{key}: no runbook named "{key}"')
    if problems:
        raise ConfigError(problems)


__all__ = ["validate_references"]
