"""The per-series streaming pipeline: features, forest and companion signals, calibration, alerting.

Four members score every point, each calibrated on the series' own recent history:
  * `forest` - the isolation forest over the forest features (unusual combinations);
  * `seasonal` - |value - its usual level for this time of day| in residual sigmas;
  * `level` - |15-min mean - 7-day baseline| in 7-day sigmas (level shifts);
  * `record` - how far the value goes beyond its 7-day high or low (novelty against the history).
The consensus probability is the geometric mean `g` of the first three members' tail probabilities;
a record multiplies it by its own: `score = 1 - g * p_record` (`p_record` is 1 for a value inside
its 7-day range). That probability is what the live API reports for the latest point.

The streaming alert output (`run_stream`, i.e. the backtest) adds alert de-duplication: a point
that scores no higher than one of the previous `refractory_points` points is a repeat of that
alert and is reported at `repeat_factor` times its score, so one incident raises one alert (and a
worse turn of it raises another).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import numpy as np

from detectors.calibration import ScoreCalibrator
from detectors.features import (
    FOREST_FEATURES,
    LEVEL_FEATURE,
    RECORD_FEATURE,
    SEASONAL_FEATURE,
    FeatureState,
    features_of,
)
from detectors.forest import ForestModel
from detectors.settings import DetectorSettings

MEMBERS = ("forest", "seasonal", "level", "record")
CONSENSUS = ("forest", "seasonal", "level")  # combined by geometric mean; `record` multiplies in


_from_epoch = partial(datetime.fromtimestamp, tz=UTC)


class RecentScores:
    """The last `maxlen` (timestamp, score) pairs of a series, in two compact arrays (16 bytes a pair).

    Iterates oldest first as `(datetime, score or None)`.
    """

    __slots__ = ("_n", "_pos", "_scores", "_times")

    def __init__(self, maxlen: int) -> None:
        self._times = np.zeros(maxlen)
        self._scores = np.zeros(maxlen)
        self._n = 0
        self._pos = 0

    def push(self, t: float, score: float | None) -> None:
        self._times[self._pos] = t
        self._scores[self._pos] = math.nan if score is None else score
        self._pos = (self._pos + 1) % len(self._times)
        self._n = min(self._n + 1, len(self._times))

    def append(self, item: tuple[datetime, float | None]) -> None:
        self.push(item[0].timestamp(), item[1])

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[tuple[datetime, float | None]]:
        idx = np.arange(self._pos - self._n, self._pos) % len(self._times)
        stamps = map(_from_epoch, self._times[idx].tolist())
        scores = [None if s != s else s for s in self._scores[idx].tolist()]  # NaN marks None
        return zip(stamps, scores, strict=True)

    def nbytes(self) -> int:
        return self._times.nbytes + self._scores.nbytes


@dataclass(slots=True)
class SeriesState:
    """Everything kept per monitored series between calls (about 36 KB, see benchmarks)."""

    features: FeatureState
    calibrators: dict[str, ScoreCalibrator]
    recent: RecentScores
    peaks: np.ndarray  # scores (before de-duplication) of the last `refractory_points` points, a ring
    points: int = 0
    last_row: np.ndarray | None = None
    last_members: dict[str, float] = field(default_factory=dict)

    @classmethod
    def new(cls, settings: DetectorSettings, *, alerts: bool = False) -> SeriesState:
        """Fresh state; `alerts` keeps the ring the alert de-duplication needs (streaming output)."""
        cals = {
            m: ScoreCalibrator(
                window=settings.calibration_window,
                tail_share=settings.tail_share,
                # a record counts on the point it happens, not averaged away over the next ones
                smoothing=1 if m == "record" else settings.smoothing_points,
            )
            for m in MEMBERS
        }
        return cls(
            FeatureState(),
            cals,
            recent=RecentScores(settings.recent_points),
            peaks=np.zeros(settings.refractory_points if alerts else 0),
        )

    def nbytes(self) -> int:
        """Approximate memory held for this series."""
        f = self.features
        arrays = (
            f.means, f.variances, f.counts, f.day_profile, f.day_seen, f.week_profile, f.week_seen,
            f.block_hi, f.block_lo, self.peaks,
        )  # fmt: skip
        return (
            sum(a.nbytes for a in arrays if a is not None)
            + sum(c.nbytes() for c in self.calibrators.values())
            + self.recent.nbytes()
            + 300
        )


@dataclass(slots=True)
class StreamOutput:
    scores: list[float | None]
    rows: np.ndarray
    raws: np.ndarray


def combine(ps: dict[str, float]) -> float:
    """1 - (geometric mean of the consensus members' tail probabilities) x the record's."""
    logs = [math.log(p) for name, p in ps.items() if name in CONSENSUS]
    g = math.exp(sum(logs) / len(logs)) if logs else 1.0
    return 1.0 - g * ps.get("record", 1.0)


def deduplicate(state: SeriesState, score: float | None, repeat_factor: float) -> float | None:
    """Alert de-duplication of the point just scored (`state.points` counts it already): a score no
    higher than one of the previous `refractory_points` scores is a repeat of that alert and is
    reported at `repeat_factor` times its value. The undamped score joins the ring."""
    peaks = state.peaks
    if not len(peaks):
        return score
    s = 0.0 if score is None else score
    repeat = s <= float(peaks.max())
    peaks[(state.points - 1) % len(peaks)] = s
    return score if score is None or not repeat else score * repeat_factor


def score_point(state: SeriesState, row: np.ndarray, raw: float | None, *, min_points: int) -> float | None:
    """Anomaly probability of one point from its feature row and forest raw score; updates `state`."""
    cals = state.calibrators
    ps: dict[str, float] = {}
    for name, value in (
        ("seasonal", abs(row[SEASONAL_FEATURE])),
        ("level", abs(row[LEVEL_FEATURE])),
        ("record", abs(row[RECORD_FEATURE])),
    ):
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
    alerts: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[float | None]:
    """Score feature rows of consecutive new points, refitting `model` whenever it falls due.

    Rows between two refits are scored in one batch with the forest fitted before the first of
    them, so every score depends only on that point and earlier ones. With `alerts`, the scores
    returned are the de-duplicated alert stream (see `deduplicate`); `state.recent` always keeps the
    anomaly probabilities.
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
            state.recent.push(float(timestamps[i + k]), s)
            scores.append(deduplicate(state, s, settings.repeat_factor) if alerts else s)
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
    """Features, then the alert stream (de-duplicated scores), of consecutive new points of one series."""
    rows = features_of(state.features, timestamps, values)
    scores = score_rows(state, model, timestamps, rows, settings, alerts=True, progress=progress)
    return StreamOutput(scores, rows, np.empty(0))
