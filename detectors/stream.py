"""One series' streaming detector: the only way anything in Conductor turns points into scores.

`SeriesDetector.feed` runs new points through the compiled kernel (`detectors.kernel`) and keeps the
state (about 49 kB) between calls. The backtest, the NAB benchmark, the detect stage, verification
and the sweeps all go through it, so the same points always get the same scores.

Per point it gives two numbers:
  * `probability` - 1 - the point's tail probability on its own series (how unusual it is now);
  * `score` - the alert score: the probability, except that a point no higher than one of the
    previous `refractory_minutes` is a repeat of that alert and scores `repeat_factor` x as much.
An alert's score (what the gate reads) is the highest point score in its alert window
(`RecentScores.peaks`); "is the metric still anomalous" (verification, sweep recovery) reads the highest
probability over a window, so an anomaly is over only when a whole window is calm.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from detectors.explain import Explanation, explain
from detectors.kernel import KernelParams, KernelState, Scores, feed, recent_in_order, window_peaks
from detectors.layout import (
    ALERT_ROUTINE,
    ALERT_T,
    CAL_N,
    DAY_RES_VAR,
    DEFAULT_STEP,
    LAST_ROUTINE,
    MIN_TAIL,
    REFERENCE_STEP,
    STEP,
    VAR,
)
from detectors.settings import DetectorSettings
from detectors.signals import M_SEASONAL, TAU_MIN_STEPS, TAUS


def kernel_params(settings: DetectorSettings) -> KernelParams:
    return KernelParams(
        seed=settings.seed,
        n_trees=settings.n_trees,
        tree_samples=settings.tree_samples,
        warmup_points=settings.warmup_points,
        refit_seconds=60.0 * settings.refit_interval_minutes,
        calibration_window=settings.calibration_window,
        calibration_horizon_seconds=60.0 * settings.calibration_horizon_minutes,
        smoothing_seconds=60.0 * settings.smoothing_minutes,
        tail_share=settings.tail_share,
        min_points=settings.min_points,
        refractory_seconds=60.0 * settings.refractory_minutes,
        repeat_factor=settings.repeat_factor,
        recent_points=settings.recent_points,
    )


@dataclass(frozen=True, slots=True)
class RecentPoint:
    """One recently scored point: its time, alert score and probability (None until scored)."""

    at: datetime
    score: float | None
    probability: float | None


def _score(q: float) -> float | None:
    """A kept tail probability (1 - score, exact near 1 in float32) back as a score."""
    return None if math.isnan(q) else 1.0 - q


@dataclass(frozen=True, slots=True)
class RecentScores:
    """The last points' scores of a series, oldest first, as arrays (cheap to take for 10,000 series);
    iterating or indexing gives `RecentPoint`s."""

    times: np.ndarray  # seconds since the epoch
    tail_score: np.ndarray  # 1 - alert score (float32, NaN until scored)
    tail_probability: np.ndarray  # 1 - probability

    def __len__(self) -> int:
        return len(self.times)

    def __getitem__(self, i: int) -> RecentPoint:
        at = datetime.fromtimestamp(float(self.times[i]), tz=UTC)
        return RecentPoint(at, _score(float(self.tail_score[i])), _score(float(self.tail_probability[i])))

    def __iter__(self) -> Iterator[RecentPoint]:
        return (self[i] for i in range(len(self.times)))

    def peak(self, since: datetime, *, probability: bool = False) -> tuple[datetime | None, float | None]:
        """The highest score (or probability) of the points after `since` and when it happened;
        (None, None) when none of them was scored."""
        k_s, k_p = window_peaks(self.times, self.tail_score, self.tail_probability, since.timestamp())
        k, tails = (k_p, self.tail_probability) if probability else (k_s, self.tail_score)
        if k < 0:
            return None, None
        return datetime.fromtimestamp(float(self.times[k]), tz=UTC), 1.0 - float(tails[k])

    def peaks(self, since: datetime) -> tuple[float | None, float | None]:
        """(highest score, highest probability) of the points after `since`."""
        k_s, k_p = window_peaks(self.times, self.tail_score, self.tail_probability, since.timestamp())
        return (
            None if k_s < 0 else 1.0 - float(self.tail_score[k_s]),
            None if k_p < 0 else 1.0 - float(self.tail_probability[k_p]),
        )


class SeriesDetector:
    """The streaming detector of one series (not thread-safe; callers serialise)."""

    __slots__ = ("params", "state")

    def __init__(self, settings: DetectorSettings) -> None:
        self.params = kernel_params(settings)
        self.state = KernelState.new(self.params)

    @property
    def points(self) -> int:
        return self.state.points

    @property
    def last_t(self) -> float:
        """Seconds since the epoch of the latest point fed (NaN before any)."""
        return self.state.last_t

    def nbytes(self) -> int:
        return self.state.nbytes()

    def feed(self, timestamps: np.ndarray, values: np.ndarray) -> Scores:
        """Score consecutive new points (seconds since the epoch; finite values) in arrival order."""
        return feed(self.state, self.params, timestamps, values)

    def recent(self) -> RecentScores:
        """The last `recent_points` points fed, oldest first."""
        st = self.state
        return RecentScores(*recent_in_order(st.recent_t, st.recent_s, st.recent_p, st.points))

    def latest(self) -> RecentPoint | None:
        """The latest point fed (None before any)."""
        st = self.state
        if st.points == 0:
            return None
        slot = (st.points - 1) % len(st.recent_t)
        at = datetime.fromtimestamp(float(st.recent_t[slot]), tz=UTC)
        return RecentPoint(at, _score(float(st.recent_s[slot])), _score(float(st.recent_p[slot])))

    def alert_at(self) -> datetime | None:
        """When the latest point that was not a repeat of an earlier alert happened."""
        t = float(self.state.sc[ALERT_T])
        return datetime.fromtimestamp(t, tz=UTC) if t > 0 else None

    def ceiling(self) -> float | None:
        """The highest score a point inside its range can reach while the series is young (its signals
        have seen too few values to call anything rarer than one in their count); None once grown."""
        seen = int(self.state.iv[CAL_N + M_SEASONAL])
        if seen >= MIN_TAIL:
            return None
        step = float(self.state.sc[STEP]) if self.state.sc[STEP] > 0 else DEFAULT_STEP
        return 1.0 - min(1.0, REFERENCE_STEP / step / (seen + 1.0))

    def explanation(self, *, top: int, alert: bool = False) -> Explanation:
        """Why the latest point (with `alert`: the latest non-repeat point) scored what it did."""
        st = self.state
        row, ps = (st.alert_row, st.alert_p) if alert else (st.last_row, st.last_p)
        routine = bool(st.sc[ALERT_ROUTINE if alert else LAST_ROUTINE] > 0.0)
        day_var = float(st.sc[VAR + 2])
        seasonality = 0.0 if day_var <= 0 else max(0.0, 1.0 - float(st.sc[DAY_RES_VAR]) / day_var)
        step = float(st.sc[STEP]) if st.sc[STEP] > 0 else 300.0
        taus = tuple(max(tau, k * step) for tau, k in zip(TAUS, TAU_MIN_STEPS, strict=True))
        return explain(row, ps, top=top, seasonality=seasonality, taus=taus, routine=routine)
