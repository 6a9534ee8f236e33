"""Explanations: which signal fired, and how far the value is from its baseline, in words."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from detectors.signals import FEATURE_NAMES, MEMBER_TEXT, MEMBERS, window_name

_ABOVE_BELOW = ("above", "below")


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature behind a score: its name, how strongly it deviates (in its own units), and words."""

    feature: str
    strength: float
    text: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """The top reasons, the signal that fired (the rarest), and one line joining them."""

    reasons: tuple[Reason, ...]
    text: str
    signal: str | None = None

    @classmethod
    def of(cls, text: str) -> Explanation:
        return cls((), text)


def unslog(f: float) -> float:
    return math.copysign(math.expm1(abs(f)), f)


def _z(subject: str, baseline: str) -> Callable[[float], str]:
    def render(f: float) -> str:
        z = unslog(f)
        return f"{subject} {abs(z):.1f} sigma {_ABOVE_BELOW[z < 0]} {baseline}"

    return render


def _variance(window: str, baseline: str) -> Callable[[float], str]:
    def render(f: float) -> str:
        ratio = math.exp(2.0 * f)
        if ratio >= 1.0:
            return f"{window} variance x{ratio:.1f} its {baseline} level"
        return f"{window} variance down to 1/{1.0 / ratio:.1f} of its {baseline} level"

    return render


def _gap(f: float) -> str:
    return f"gap of {math.expm1(f) + 1.0:.1f} usual steps since the previous point"


def _diff(f: float) -> str:
    z = unslog(f)
    return f"{'rise' if z > 0 else 'drop'} of {abs(z):.1f} sigma since the previous point"


def _record(f: float) -> str:
    beyond = math.expm1(abs(f))
    side = "above its 7-day high" if f > 0 else "below its 7-day low"
    return f"value {beyond:.0%} of its 7-day range {side}"


def renderers(taus: Sequence[float]) -> dict[str, Callable[[float], str]]:
    fast, hour, day, week = (window_name(t) for t in taus)
    return {
        "z_value_1d": _z("value", f"its {day} mean"),
        "z_value_1h": _z("value", f"its {hour} mean"),
        "z_diff": _diff,
        "level_1h_vs_1d": _z(f"{hour} mean", f"its {day} baseline"),
        "level_15m_vs_7d": _z(f"{fast} mean", f"its {week} baseline"),
        "level_1d_vs_7d": _z(f"{day} mean", f"its {week} baseline"),
        "var_1h_vs_1d": _variance(hour, day),
        "var_1d_vs_7d": _variance(day, week),
        "z_time_of_day": _z("value", "its usual level for this time of day"),
        "gap": _gap,
        "record_7d": _record,
    }


# How far a feature must be from 0 to be worth a mention (signed log of 2 sigma; variance x2; a
# record 10% of the range beyond the extreme).
_NOTABLE = {
    name: math.log(2.0) / 2.0 if name.startswith("var_") else math.log1p(2.0) for name in FEATURE_NAMES
}
_NOTABLE["record_7d"] = math.log1p(0.1)
# Strength per unit of feature, so reasons of different kinds rank together.
_WEIGHT = {name: 2.0 if name.startswith("var_") else 1.0 for name in FEATURE_NAMES}
_WEIGHT["record_7d"] = 3.0
# The feature that shows each signal's distance from its baseline, named first when that signal fired.
_SIGNAL_FEATURE = {"seasonal": "z_time_of_day", "level": "level_15m_vs_7d", "record": "record_7d"}
_TAUS = (900.0, 3600.0, 86400.0, 604800.0)


def explain(
    row: np.ndarray | None,
    member_p: Sequence[float] | np.ndarray,
    *,
    top: int = 3,
    seasonality: float = 0.0,
    taus: Sequence[float] = _TAUS,
    routine: bool = False,
) -> Explanation:
    """Reasons for one scored point: the signal that fired first (the rarest of the four, with its
    tail probability), then the features furthest from their baselines in their own units (sigmas,
    variance ratios, shares of the 7-day range). Time-of-day context is only mentioned for series
    whose daily profile explains at least 30% of their variance. `routine`: the value lies inside what
    its time of day showed on earlier days (the score counts it at most once a day)."""
    if row is None:
        return Explanation.of("no scored point")
    render = renderers(taus)
    ps = [float(p) for p in member_p]
    k = min(range(len(ps)), key=ps.__getitem__)
    signal = MEMBERS[k] if ps[k] < 1.0 else None
    candidates: list[tuple[float, str]] = []
    for j, name in enumerate(FEATURE_NAMES):
        f = float(row[j])
        if name == "z_time_of_day" and seasonality < 0.3 and signal != "seasonal":
            continue
        if abs(f) >= _NOTABLE[name]:
            boost = 100.0 if signal is not None and _SIGNAL_FEATURE.get(signal) == name else 0.0
            candidates.append((abs(f) * _WEIGHT[name] + boost, name))
    candidates.sort(reverse=True)
    reasons = tuple(
        Reason(name, round(abs(float(row[FEATURE_NAMES.index(name)])) * _WEIGHT[name], 3),
               render[name](float(row[FEATURE_NAMES.index(name)])))
        for _, name in candidates[:top]
    )  # fmt: skip
    text = (
        "; ".join(r.text for r in reasons)
        or "nothing stands out: every feature within 2 sigma of its baseline"
    )
    if signal is not None:
        text += f" (signal: {MEMBER_TEXT[signal]}, 1 in {1.0 / max(ps[k], 1e-12):,.0f})"
    if routine:
        text += "; this time of day has shown such values on earlier days, so it counts at most once a day"
    return Explanation(reasons, text, signal)
