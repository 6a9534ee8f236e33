"""The per-series streaming pipeline: features, forest and companion signals, calibration.

Three members score every point, each calibrated on the series' own recent history:
  * `forest` - the isolation forest over the forest features (unusual combinations);
  * `seasonal` - |value - its usual level for this time of day| in residual sigmas;
  * `level` - |15-min mean - 7-day baseline| in 7-day sigmas (level shifts).
The point's anomaly probability is 1 - (geometric mean of the members' tail probabilities).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from detectors.calibration import ScoreCalibrator
from detectors.features import FOREST_FEATURES, LEVEL_FEATURE, SEASONAL_FEATURE, FeatureState, features_of
from detectors.forest import ForestModel
from detectors.settings import DetectorSettings

MEMBERS = ("forest", "seasonal", "level")


@dataclass(slots=True)
class SeriesState:
    """Everything kept per monitored series between calls (about 30 KB, see benchmarks)."""

    features: FeatureState
    calibrators: dict[str, ScoreCalibrator]
    points: int = 0
    recent: deque[tuple[float, float | None]] = field(default_factory=deque)  # (t, score)
    last_row: np.ndarray | None = None
    last_members: dict[str, float] = field(default_factory=dict)

    @classmethod
    def new(cls, settings: DetectorSettings) -> SeriesState:
        cals = {
            m: ScoreCalibrator(
                window=settings.calibration_window,
                tail_share=settings.tail_share,
                smoothing=settings.smoothing_points,
            )
            for m in MEMBERS
        }
        return cls(FeatureState(), cals, recent=deque(maxlen=settings.recent_points))

    def nbytes(self) -> int:
        """Approximate memory held for this series."""
        f = self.features
        arrays = (f.means, f.variances, f.counts, f.day_profile, f.day_seen, f.week_profile, f.week_seen)
        return (
            sum(a.nbytes for a in arrays if a is not None)
            + sum(c.nbytes() for c in self.calibrators.values())
            + 16 * len(self.recent)
            + 200
        )


@dataclass(slots=True)
class StreamOutput:
    scores: list[float | None]
    rows: np.ndarray
    raws: np.ndarray


def combine(ps: dict[str, float]) -> float:
    """1 - geometric mean of the members' tail probabilities."""
    return 1.0 - math.exp(sum(math.log(p) for p in ps.values()) / len(ps))


def score_point(state: SeriesState, row: np.ndarray, raw: float | None, *, min_points: int) -> float | None:
    """Anomaly probability of one point from its feature row and forest raw score; updates `state`."""
    cals = state.calibrators
    ps: dict[str, float] = {}
    for name, value in (("seasonal", abs(row[SEASONAL_FEATURE])), ("level", abs(row[LEVEL_FEATURE]))):
        p = cals[name].probability(float(value))
        if p is not None:
            ps[name] = p
    if raw is not None and math.isfinite(raw):
        p = cals["forest"].probability(raw)
        if p is not None:
            ps["forest"] = p
    state.points += 1
    state.last_row = row
    state.last_members = ps
    if state.points < min_points or raw is None or not ps:
        return None
    return combine(ps)


def score_rows(
    state: SeriesState,
    model: ForestModel,
    timestamps: np.ndarray,
    rows: np.ndarray,
    settings: DetectorSettings,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[float | None]:
    """Score feature rows of consecutive new points, refitting `model` whenever it falls due.

    Rows between two refits are scored in one batch with the forest fitted before the first of
    them, so every score depends only on that point and earlier ones.
    """
    n = len(rows)
    scores: list[float | None] = []
    i = 0
    while i < n:
        j = min(n, i + max(model.rows_until_due(), 1))
        segment = rows[i:j]
        raws = model.raw(segment[:, FOREST_FEATURES]) if model.fitted else np.full(j - i, np.nan)
        for k in range(j - i):
            r = float(raws[k])
            s = score_point(state, segment[k], r if model.fitted else None, min_points=settings.min_points)
            scores.append(s)
            state.recent.append((float(timestamps[i + k]), s))
        model.add(segment[:, FOREST_FEATURES])
        if model.rows_until_due() == 0:
            model.fit()
        if progress is not None:
            progress(j - i)
        i = j
    return scores


def run_stream(
    state: SeriesState,
    model: ForestModel,
    timestamps: np.ndarray,
    values: np.ndarray,
    settings: DetectorSettings,
    *,
    progress: Callable[[int], None] | None = None,
) -> StreamOutput:
    """Features, then scores, of consecutive new points of one series."""
    rows = features_of(state.features, timestamps, values)
    scores = score_rows(state, model, timestamps, rows, settings, progress=progress)
    return StreamOutput(scores, rows, np.empty(0))
