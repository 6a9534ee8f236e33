"""Explanations: the few features that pushed a point's score most, in words an on-call engineer reads."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from detectors.features import FEATURE_NAMES, TAU_NAMES, unslog

_ABOVE_BELOW = ("above", "below")


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature behind a score: its name, how strongly it deviates (in its own units), and words."""

    feature: str
    strength: float
    text: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """The top reasons and one line joining them (for Slack, Jira and logs)."""

    reasons: tuple[Reason, ...]
    text: str

    @classmethod
    def of(cls, text: str) -> Explanation:
        return cls((), text)


def _sigma(f: float) -> tuple[float, str]:
    z = unslog(f)
    return abs(z), _ABOVE_BELOW[z < 0]


def _z(subject: str, baseline: str) -> Callable[[float], str]:
    def render(f: float) -> str:
        size, side = _sigma(f)
        return f"{subject} {size:.1f} sigma {side} {baseline}"

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
    size, _ = _sigma(f)
    return f"{'rise' if f > 0 else 'drop'} of {size:.1f} sigma since the previous point"


def _record(f: float) -> str:
    beyond = math.expm1(abs(f))
    return (
        f"value {beyond:.0%} of its 7-day range {'above its 7-day high' if f > 0 else 'below its 7-day low'}"
    )


_FAST, _HOUR, _DAY, _WEEK = TAU_NAMES
RENDER: dict[str, Callable[[float], str]] = {
    "z_value_1d": _z("value", f"its {_DAY} mean"),
    "z_value_1h": _z("value", f"its {_HOUR} mean"),
    "z_diff": _diff,
    "level_1h_vs_1d": _z(f"{_HOUR} mean", f"its {_DAY} baseline"),
    "level_15m_vs_7d": _z(f"{_FAST} mean", f"its {_WEEK} baseline"),
    "level_1d_vs_7d": _z(f"{_DAY} mean", f"its {_WEEK} baseline"),
    "var_1h_vs_1d": _variance(_HOUR, _DAY),
    "var_1d_vs_7d": _variance(_DAY, _WEEK),
    "z_time_of_day": _z("value", "its usual level for this time of day"),
    "z_time_of_week": _z("value", "its usual level for this hour of the week"),
    "gap": _gap,
    "record_7d": _record,
}
# How far a feature must be from 0 to be worth a mention (signed log of 2 sigma; variance x2).
_NOTABLE = {
    name: (math.log(2.0) / 2.0 if name.startswith("var_") else math.log1p(2.0)) for name in FEATURE_NAMES
}
_NOTABLE["record_7d"] = math.log1p(0.1)  # 10% of the 7-day range beyond its extreme
# Strength per unit of feature, so reasons of different kinds rank together (a record one full
# 7-day range beyond the extreme ranks like a 7-sigma deviation).
_WEIGHT = {name: 2.0 if name.startswith("var_") else 1.0 for name in FEATURE_NAMES}
_WEIGHT["record_7d"] = 3.0


def explain(
    row: np.ndarray | None, members: dict[str, float], *, top: int = 3, seasonality: float = 0.0
) -> Explanation:
    """Reasons for one scored point, strongest first.

    Strength is the feature's deviation from "normal" (0) in its own units: sigmas for z-scores
    (compressed by the signed log the forest sees), log-ratio for variances, the share of the 7-day
    range beyond the 7-day extreme for records. Time-of-day and
    time-of-week context is only mentioned for series whose daily profile explains their variance.
    """
    if row is None:
        return Explanation.of("no scored point")
    candidates: list[tuple[float, str]] = []
    for j, name in enumerate(FEATURE_NAMES):
        f = float(row[j])
        strength = abs(f) * _WEIGHT[name]
        if name in ("z_time_of_day", "z_time_of_week") and seasonality < 0.3:
            continue
        if name == "z_time_of_week" and f == float(row[FEATURE_NAMES.index("z_time_of_day")]):
            continue  # no weekly profile yet: the feature repeats the daily one
        if abs(f) >= _NOTABLE[name]:
            candidates.append((strength, name))
    candidates.sort(reverse=True)
    reasons = tuple(
        Reason(name, round(s, 3), RENDER[name](float(row[FEATURE_NAMES.index(name)])))
        for s, name in candidates[:top]
    )
    if reasons:
        text = "; ".join(r.text for r in reasons)
    else:
        text = "nothing stands out: every feature within 2 sigma of its baseline"
    if members:
        rarest = min(members, key=lambda m: members[m])
        text += f" (rarest signal: {rarest}, 1 in {1.0 / max(members[rarest], 1e-12):,.0f})"
    return Explanation(reasons, text)
