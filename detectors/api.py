"""The detector as the pipeline sees it: `AnomalyDetector.score(history, now)`.

One isolation forest is shared by every live series (their features are normalised per series);
each series keeps only its streaming state (features, calibration windows, recent scores).
Bad data never raises: it comes back as `status=error` with the reason.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import numpy as np

from detectors.explain import Explanation, explain
from detectors.features import FOREST_FEATURES, features_of
from detectors.forest import ForestModel
from detectors.persistence import LoadOutcome, ModelStore
from detectors.series import MetricSeries
from detectors.settings import DetectorSettings
from detectors.stream import SeriesState, score_point, score_rows

log = logging.getLogger(__name__)

MODEL_NAME = "detector"
# Settings that change what a saved model means; the others (threshold...) can change freely.
_MODEL_SETTINGS = (
    "seed", "n_estimators", "max_samples", "warmup_points", "refit_interval",
    "shared_history_rows", "shared_refit_rows", "calibration_window", "smoothing_points", "tail_share",
    "recent_points",
)  # fmt: skip


class DetectionStatus(StrEnum):
    OK = "ok"
    INSUFFICIENT_DATA = "insufficient_data"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """The detector's finding for the latest point of one series at or before `now`.

    `score` is the anomaly probability in [0, 1] (None unless status is ok): 0.999 means the point
    is rarer than 99.9% of what this series did recently. `recent` holds the per-point scores of
    the series' recent window (oldest first) for charts.
    """

    key: str
    status: DetectionStatus
    score: float | None
    is_anomalous: bool
    threshold: float
    explanation: Explanation
    scored_at: datetime | None = None
    detail: str = ""
    recent: tuple[tuple[datetime, float | None], ...] = ()


class BadSeries(ValueError):
    """A series whose points cannot be used; the message is the reason shown to the user."""


def _seconds(stamp: datetime) -> float:
    return (stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)).timestamp()


def _points(
    history: MetricSeries, now: datetime, *, after: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Finite points at or before `now` (and, for a sorted history, after `after`), oldest first."""
    stamps, values = history.timestamps, history.values
    if len(stamps) != len(values):
        raise BadSeries("timestamps and values differ in length")
    try:
        start = 0
        if after is not None and stamps and stamps[0] <= stamps[-1]:
            # Only the points newer than the stored state need converting (the common, sorted case).
            start = bisect_right(stamps, _stamp(after), key=_aware)
            start = max(0, start - 1)  # keep one old point so a late "now" still finds the latest
        ts = np.array([_seconds(t) for t in stamps[start:]], dtype=float)
        vs = np.array(values[start:], dtype=float)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise BadSeries(f"unusable points: {exc}") from None
    keep = np.isfinite(vs) & np.isfinite(ts) & (ts <= _seconds(now))
    ts, vs = ts[keep], vs[keep]
    order = np.argsort(ts, kind="stable")
    return ts[order], vs[order]


def _aware(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _stamp(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


class AnomalyDetector:
    """Scores metric series with one shared forest and per-series streaming state.

    Series are told apart by `MetricSeries.key`. Each call feeds the points newer than the ones
    already seen; asking about an earlier `now` rescores the given history from scratch instead
    (nothing stored changes). Deterministic for given settings, seed and call sequence.
    """

    def __init__(self, settings: DetectorSettings, *, data_dir: Path, load: bool = True) -> None:
        self.settings = settings
        self.store = ModelStore(data_dir)
        self.model = ForestModel(settings, private=False, capacity=settings.shared_history_rows)
        self._states: OrderedDict[str, SeriesState] = OrderedDict()
        self.load_outcome = LoadOutcome(None, "not loaded")
        if load:
            self.load_outcome = self.store.load(MODEL_NAME, settings=self._model_settings())
            payload = self.load_outcome.payload
            if isinstance(payload, dict) and isinstance(payload.get("model"), ForestModel):
                self.model = payload["model"]
                self._states = OrderedDict(payload.get("states", {}))
            elif payload is not None:
                self.load_outcome = LoadOutcome(None, "unexpected payload: retraining")

    # -- persistence ---------------------------------------------------------------------------
    def _model_settings(self) -> dict[str, object]:
        return {k: getattr(self.settings, k) for k in _MODEL_SETTINGS}

    def save(self) -> Path:
        """Write the shared forest and every series' state to `<data_dir>/models/`."""
        payload = {"model": self.model, "states": dict(self._states)}
        return self.store.save(MODEL_NAME, payload, settings=self._model_settings())

    def state_bytes(self, key: str) -> int:
        state = self._states.get(key)
        return 0 if state is None else state.nbytes()

    def __len__(self) -> int:
        return len(self._states)

    # -- scoring -------------------------------------------------------------------------------
    def score(self, history: MetricSeries, now: datetime) -> DetectionResult:
        """Score the latest point of `history` at or before `now` (later points are ignored)."""
        return self.score_many([history], now)[0]

    def score_many(self, histories: Sequence[MetricSeries], now: datetime) -> list[DetectionResult]:
        """Score many series at once: their new points go through the forest in one batch."""
        results: list[DetectionResult | None] = [None] * len(histories)
        batch: list[tuple[int, SeriesState, np.ndarray, np.ndarray]] = []
        for i, history in enumerate(histories):
            known = self._states.get(history.key)
            after = known.features.last_t if known is not None and known.points else None
            if after is not None and _seconds(now) < after:
                after = None  # scoring the past: the whole history is rescored
            try:
                ts, vs = _points(history, now, after=after)
            except BadSeries as exc:
                results[i] = self._result(history.key, None, status=DetectionStatus.ERROR, detail=str(exc))
                continue
            if len(ts) == 0:
                results[i] = self._result(
                    history.key,
                    None,
                    status=DetectionStatus.INSUFFICIENT_DATA,
                    detail="no points at or before now",
                )
                continue
            state = self._states.get(history.key)
            if state is not None and state.points and ts[-1] < state.features.last_t:
                results[i] = self._score_past(history.key, ts, vs)
                continue
            if state is None:
                state = SeriesState.new(self.settings)
                self._states[history.key] = state
            self._states.move_to_end(history.key)
            fresh = ts > state.features.last_t if state.points else np.ones(len(ts), dtype=bool)
            ts_new = ts[fresh]
            rows = features_of(state.features, ts_new, vs[fresh])
            batch.append((i, state, ts_new, rows))
        self._score_batch(batch)
        for i, state, _, _ in batch:
            results[i] = self._result(histories[i].key, state)
        while len(self._states) > self.settings.max_series_states:
            self._states.popitem(last=False)
        return [r for r in results if r is not None]

    def _score_batch(self, batch: list[tuple[int, SeriesState, np.ndarray, np.ndarray]]) -> None:
        work = [(state, ts, rows) for _, state, ts, rows in batch if len(rows)]
        if not work:
            return
        if not self.model.fitted:  # cold start: stream each series, fitting the forest when due
            for state, ts, rows in work:
                score_rows(state, self.model, ts, rows, self.settings)
            return
        stacked = np.concatenate([rows[:, FOREST_FEATURES] for _, _, rows in work])
        raws = self.model.raw(stacked)  # one micro-batch for every new point of every series
        at = 0
        for state, ts, rows in work:
            for k in range(len(rows)):
                s = score_point(state, rows[k], float(raws[at + k]), min_points=self.settings.min_points)
                state.recent.push(float(ts[k]), s)
            at += len(rows)
        self.model.add(stacked)
        if self.model.rows_until_due() == 0:
            self.model.fit()

    def _score_past(self, key: str, ts: np.ndarray, vs: np.ndarray) -> DetectionResult:
        """Rescore a history that ends before what this series has already seen (no state changes)."""
        state = SeriesState.new(self.settings)
        model = ForestModel(self.settings, private=True)
        rows = features_of(state.features, ts, vs)
        score_rows(state, model, ts, rows, self.settings)
        return self._result(key, state)

    def score_series(self, history: MetricSeries, *, now: datetime | None = None) -> list[float | None]:
        """Per-point scores of a whole history, as a backtest would give them (no stored state changes)."""
        stop = now or datetime.max.replace(tzinfo=UTC)
        ts, vs = _points(history, stop)
        state = SeriesState.new(self.settings)
        model = ForestModel(self.settings, private=True)
        rows = features_of(state.features, ts, vs)
        return score_rows(state, model, ts, rows, self.settings)

    def _result(
        self,
        key: str,
        state: SeriesState | None,
        *,
        status: DetectionStatus | None = None,
        detail: str = "",
    ) -> DetectionResult:
        threshold = self.settings.threshold
        if state is None or not state.recent:
            st = status or DetectionStatus.INSUFFICIENT_DATA
            return DetectionResult(
                key, st, None, False, threshold, Explanation.of(detail or st.value), detail=detail
            )
        recent = tuple(state.recent)
        scored_at, score = recent[-1]
        if score is None or not math.isfinite(score):
            need = max(self.settings.min_points - state.points, 0)
            why = (
                f"{state.points} points seen, {need} more needed"
                if need
                else "detector still warming up (the shared forest is not fitted yet)"
            )
            return DetectionResult(
                key, DetectionStatus.INSUFFICIENT_DATA, None, False, threshold, Explanation.of(why),
                scored_at=scored_at, detail=why, recent=recent,
            )  # fmt: skip
        explanation = explain(
            state.last_row,
            state.last_members,
            top=self.settings.explain_top,
            seasonality=state.features.seasonality(),
        )
        return DetectionResult(
            key, DetectionStatus.OK, score, score >= threshold, threshold, explanation,
            scored_at=scored_at, recent=recent,
        )  # fmt: skip
