"""What the two scaling runbooks (ECS services, Auto Scaling groups) share: their parameters'
absolute-or-relative form, the guard arithmetic and its named verdicts. It registers no runbook.

A change is exactly one of:

- absolute (`desired_count` / `desired_capacity`): outside the guards it is refused, never bent;
- `step` (+N / -N) or `factor` (x1.5): the result is clamped to the guards, rounded away from the
  current value (3 x 1.5 = 4.5 -> 5; 3 x 0.5 = 1.5 -> 1), and never moves the other way (a scale-out
  of a service already above the max does nothing rather than scale it in).

Guards are `[lo, hi]`: the run's `min`/`max` params, else the `[aws.guards]` defaults; for an Auto
Scaling group, further narrowed to the group's own MinSize/MaxSize.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.runbook_kit.spec import Outcome, ReconcileDecision, RunResult

# Plan verdicts / no-op reasons.
ACT = "act"
ALREADY_AT_TARGET = "already_at_target"  # the value already is what was asked for
AT_LIMIT = "at_limit"  # a relative change is already pinned at a guard
BEYOND_GUARD = "beyond_guard"  # an absolute value outside the guards: refused
INVALID_GUARDS = "invalid_guards"  # min above max (after narrowing to the group's limits)


class ScaleParams(BaseModel):
    """Common parameters; subclasses add the absolute field named by `absolute_name`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    absolute_name: ClassVar[str] = "desired"

    step: int | None = Field(None, description="Relative change, e.g. 2 (scale out) or -1 (scale in).")
    factor: float | None = Field(None, gt=0, le=10, description="Multiply the current value, e.g. 1.5.")
    min: int | None = Field(None, ge=0, description="Lower guard for this run (default: [aws.guards]).")
    max: int | None = Field(None, ge=0, description="Upper guard for this run (default: [aws.guards]).")

    @property
    def absolute(self) -> int | None:
        return None

    @property
    def is_relative(self) -> bool:
        return self.absolute is None

    def describe(self) -> str:
        if self.absolute is not None:
            return f"{self.absolute_name}={self.absolute}"
        if self.step is not None:
            return f"step {self.step:+d}"
        return f"factor x{self.factor:g}"

    @model_validator(mode="after")
    def _one_change(self) -> ScaleParams:
        given = [v for v in (self.absolute, self.step, self.factor) if v is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {self.absolute_name}, step or factor")
        if self.step == 0 or self.factor == 1:
            raise ValueError("a step of 0 or a factor of 1 changes nothing")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


@dataclass(frozen=True, slots=True)
class ScaleDecision:
    current: int
    target: int
    lo: int
    hi: int
    verdict: str
    message: str
    clamped: bool = False

    @property
    def acts(self) -> bool:
        return self.verdict == ACT

    def findings(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "target": self.target,
            "guards": [self.lo, self.hi],
            "clamped": self.clamped,
            "verdict": self.verdict,
        }


def decide_scale(params: ScaleParams, *, current: int, lo: int, hi: int, unit: str) -> ScaleDecision:
    """The target value and whether to act, for `params` applied to `current` within `[lo, hi]`."""

    def decision(target: int, verdict: str, message: str, clamped: bool = False) -> ScaleDecision:
        return ScaleDecision(current, target, lo, hi, verdict, message, clamped)

    if lo > hi:
        return decision(current, INVALID_GUARDS, f"guards are empty: min {lo} is above max {hi}")
    absolute = params.absolute
    if absolute is not None:
        if absolute > hi:
            return decision(current, BEYOND_GUARD, f"{unit} {absolute} is above the max guard {hi}")
        if absolute < lo:
            return decision(current, BEYOND_GUARD, f"{unit} {absolute} is below the min guard {lo}")
        if absolute == current:
            return decision(current, ALREADY_AT_TARGET, f"{unit} already is {current}")
        return decision(absolute, ACT, f"{unit} {current} -> {absolute}")

    if params.step is not None:
        wanted, up = current + params.step, params.step > 0
    else:
        factor = params.factor or 1.0
        up = factor > 1
        wanted = math.ceil(current * factor) if up else math.floor(current * factor)
    target = min(max(wanted, lo), hi)
    # Never move against the requested direction (e.g. a scale-out while above the max guard).
    target = max(target, current) if up else min(target, current)
    clamped = target != wanted
    if target == current:
        verdict = AT_LIMIT if clamped else ALREADY_AT_TARGET
        return decision(
            current, verdict, f"{unit} stays {current} ({params.describe()}, guards {lo}..{hi})", clamped
        )
    note = f" (clamped from {wanted} to the guards {lo}..{hi})" if clamped else ""
    return decision(target, ACT, f"{unit} {current} -> {target}{note}", clamped)


def reconcile_scale(params: ScaleParams, current: int) -> ReconcileDecision:
    """After a crash: an absolute target is checked against the live value; a relative one cannot be
    (its baseline is gone, and ECS/Auto Scaling keep no record of who changed the value), so a
    human decides rather than risk stepping twice."""
    absolute = params.absolute
    if absolute is None:
        return ReconcileDecision.UNKNOWN
    return ReconcileDecision.ALREADY_APPLIED if current == absolute else ReconcileDecision.NOT_APPLIED


def changed_result(decision: ScaleDecision, *, key: str, unit: str, now_value: int) -> RunResult:
    """The CHANGED result of a scaling act; `rollback_state` holds what rollback restores."""
    return RunResult(
        Outcome.CHANGED,
        f"{unit} {decision.current} -> {now_value}",
        details={key: now_value, "previous": decision.current, "clamped": decision.clamped},
        rollback_state={"previous": decision.current, "applied": decision.target},
    )


def rollback_to_previous(
    result: RunResult, *, read: Callable[[], int], write: Callable[[int], object], key: str, unit: str
) -> RunResult:
    """Restore `rollback_state["previous"]`, unless the live value is no longer the one the run set
    (someone or something changed it since: overwriting that would undo their change, not ours)."""
    previous, applied = result.rollback_state.get("previous"), result.rollback_state.get("applied")
    if not isinstance(previous, int) or not isinstance(applied, int):
        return RunResult.noop("nothing_to_roll_back")
    current = read()
    if current == previous:
        return RunResult.noop(ALREADY_AT_TARGET, **{key: current})
    if current != applied:
        return RunResult.failed(
            f"{unit} is {current}, not the {applied} this run set: changed since, not rolling back",
            **{key: current},
        )
    write(previous)
    return RunResult(
        Outcome.CHANGED,
        f"{unit} {applied} -> {previous} (rolled back)",
        details={key: previous, "previous": applied},
        rollback_state={"previous": applied, "applied": previous},
    )
