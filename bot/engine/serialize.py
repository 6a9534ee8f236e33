"""Plans and results to and from JSON (stored on the run, shown in Slack, Jira and the CLI)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bot.logs import redact_value
from bot.runbook_kit.spec import Outcome, Plan, PlannedCall, RunResult


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def plan_to_json(plan: Plan) -> dict[str, Any]:
    # Plans may carry job arguments or settings: redact anything that looks like a secret.
    return redact_value("plan", _jsonable(asdict(plan)))  # type: ignore[no-any-return]


def plan_from_json(data: dict[str, Any]) -> Plan:
    calls = [PlannedCall(**c) for c in data.get("calls", [])]
    return Plan(
        summary=str(data.get("summary", "")),
        calls=calls,
        verdict=str(data.get("verdict", "act")),
        findings=dict(data.get("findings", {})),
    )


def result_to_json(result: RunResult) -> dict[str, Any]:
    return redact_value("result", _jsonable(asdict(result)))  # type: ignore[no-any-return]


def result_from_json(data: dict[str, Any]) -> RunResult:
    return RunResult(
        outcome=Outcome(data.get("outcome", "failed")),
        reason=str(data.get("reason", "")),
        details=dict(data.get("details", {})),
        rollback_state=dict(data.get("rollback_state", {})),
    )
