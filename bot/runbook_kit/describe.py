"""A runbook's contract as data: what `conductor runbooks show` prints and the console shows."""

from __future__ import annotations

import inspect
import re
from typing import Any

from pydantic_core import PydanticUndefined

from bot.runbook_kit.spec import RunbookSpec


def type_name(annotation: Any) -> str:
    """`int | None`, `list[str]`, `Literal['a', 'b']`: the annotation as a person writes it."""
    if isinstance(annotation, type):
        return annotation.__name__
    text = repr(annotation)
    return re.sub(r"\b(?:typing|typing_extensions|builtins)\.", "", text).replace("NoneType", "None")


def _seconds(value: float) -> str:
    minutes, seconds = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{seconds}s" if seconds else ""]
    return "".join(parts) or "0s"


def describe_runbook(spec: RunbookSpec[Any]) -> dict[str, Any]:
    """Id, help, target kind, risk, approval policy, timeout, cooldown, budget and params
    (name, type, default or required, description)."""
    params = []
    for name, field in spec.params.model_fields.items():
        required = field.is_required()
        default = None if required or field.default is PydanticUndefined else field.default
        params.append(
            {
                "name": name,
                "type": type_name(field.annotation),
                "required": required,
                "default": default,
                "description": field.description or "",
            }
        )
    budget = spec.budget
    return {
        "id": spec.id,
        "title": spec.title,
        "help": inspect.cleandoc(spec.help),
        "target_kind": spec.target_kind,
        "risk": spec.risk.value,
        "approval": spec.approval.describe(),
        "timeout": _seconds(spec.timeout.total_seconds()),
        "cooldown": _seconds(spec.cooldown.total_seconds()),
        "budget": (
            None
            if budget is None
            else {"max_runs": budget.max_runs, "window": _seconds(budget.window.total_seconds())}
        ),
        "idempotent": spec.idempotent,
        "resolves_incident": spec.resolves_incident,
        "params": params,
    }
