"""Checks that need more than one section: rules name real runbooks, matchers are valid; and
warnings about a configuration that is valid but refuses more than its author may expect."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config.root import Settings
from bot.config.rule_checks import rule_problems
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
    from bot.runbook_kit.loader import load_builtin_runbooks, load_runbook_dirs
    from bot.runbook_kit.spec import REGISTRY

    problems: list[str] = []
    load_builtin_runbooks()
    try:
        load_runbook_dirs(list(settings.runbooks.directories))
    except ConductorError as exc:
        problems.append(f"runbooks.directories: {exc}")
    for i, rule in enumerate(settings.rules):
        problems += rule_problems(i, rule)
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


def _may_need_approval(settings: Settings) -> dict[str, list[str]]:
    """Runbook ids whose runs can need a human's approval, by the key an approver entry would use."""
    from bot.runbook_kit.spec import REGISTRY, ApprovalMode

    always = {rule.runbook for rule in settings.rules if rule.approval == "always"}
    found: dict[str, list[str]] = {}
    for spec in REGISTRY.all():
        policy = spec.approval
        asks = (
            spec.id in always
            or policy.mode in (ApprovalMode.ALWAYS, ApprovalMode.SCORE_BELOW)
            or (
                policy.mode is ApprovalMode.RISK_AT_LEAST
                and policy.risk is not None
                and spec.risk.rank >= policy.risk.rank
            )
        )
        if asks and spec.id not in settings.approvals.approvers:
            found.setdefault(f"risk:{spec.risk.value}", []).append(spec.id)
    return found


def config_warnings(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """What `check-config` and `serve` warn about (call after `validate_references`)."""
    warnings = []
    for key, runbooks in sorted(_may_need_approval(settings).items()):
        if key not in settings.approvals.approvers:
            warnings.append(
                f"approvals.approvers: nobody may approve {', '.join(runbooks)} ({key}): their runs that "
                f'need approval are refused (fail closed); add [approvals.approvers."{key}"]'
            )
    for i, token in enumerate(settings.permissions.api_tokens):
        if not environ.get(token.secret_env):
            warnings.append(
                f"permissions.api_tokens[{i}].secret_env: {token.secret_env} is not set; "
                f"the token {token.name!r} is off"
            )
    return warnings


__all__ = ["config_warnings", "validate_references"]
