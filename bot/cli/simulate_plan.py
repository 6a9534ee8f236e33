"""The dry-run plan of a simulated decision, as lines (network: the plan reads the target)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import ConductorError

if TYPE_CHECKING:
    from bot.engine.engine import Engine
    from bot.pipeline.simulate import AlertSimulation


def plan_text(engine: Engine, result: AlertSimulation) -> list[str]:
    """The plan's lines, or one line saying why there is none."""
    from bot.engine.views import plan_lines

    if result.runbook is None or result.target is None:
        return []
    try:
        return plan_lines(
            engine.preview(result.runbook, result.target, dict(result.params), requested_by="simulate")
        )
    except ConductorError as exc:
        return [f"no plan: {exc}"]
