"""The detector as the pipeline sees it: `AnomalyDetector.score(history, now)`.

Every series has its own `SeriesDetector` (its own isolation forest, calibration and alert state),
so a series scores the same whether it is backtested from a file, scored by the detect stage or
swept: the live detector only keeps those per-series states between calls (and saves them).
Bad points never raise: unusable ones are skipped and counted, and a series with nothing usable is
`insufficient_data` or `error` with the reason.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detectors.explain import Explanation
from detectors.persistence import LoadOutcome, ModelStore
from detectors.series import MetricSeries
from detectors.settings import DetectorSettings

if TYPE_CHECKING:  # the kernel (numba) is imported when something is scored, not at start-up
    from detectors.stream import RecentScores, SeriesDetector

log = logging.getLogger(__name__)

MODEL_NAME = "detector"
# Settings that change what a saved state means; the others (threshold...) can change freely.
_MODEL_SETTINGS = (
    "seed", "n_trees", "tree_samples", "warmup_points", "refit_interval_minutes", "calibration_window",
    "calibration_horizon_minutes", "smoothing_minutes", "tail_share", "min_points", "refractory_minutes",
    "repeat_factor", "recent_points",
)  # fmt: skip
_NOT_EXPLAINED = Explanation.of("below the threshold (not explained in bulk scoring)")


class DetectionStatus(StrEnum):
    OK = "ok"
    INSUFFICIENT_DATA = "insufficient_data"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """The detector's finding for one series at `now`.

    `score` is the alert score in [0, 1] (None unless status is ok): the highest point score in the
    last `alert_window_minutes` - what the gate compares with its threshold. `probability` is the
    highest point probability (the score before alert de-duplication) in the same window: "is it
    still anomalous?", which verification reads (the anomaly is over once a whole window is calm).
    `recent` holds the last points' scores, oldest first.
    """

    key: str
    status: DetectionStatus
    score: float | None
    is_anomalous: bool
    threshold: float
    explanation: Explanation
    scored_at: datetime | None = None
    detail: str = ""
    recent: RecentScores | None = None
    probability: float | None = None
    skipped: int = 0


def _seconds(stamp: object) -> float:
    if not isinstance(stamp, datetime):
        raise TypeError(f"timestamp {stamp!r} is not a datetime")
    return (stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)).timestamp()


def usable_points(
    history: MetricSeries, now: datetime, *, after: float | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """The points at or before `now` (and after `after`) that can be scored, in the order given, and how
    many were skipped as unusable (not a datetime, not a number, NaN or infinite). With `after`, only
    the points after the last one at or before `after` are read (the common, incremental case: a fetch
    returns the series in time order, and only its newest points are new)."""
    if len(history.timestamps) != len(history.values):
        raise ValueError("timestamps and values differ in length")
    stop = _seconds(now)
    stamps, values = history.timestamps, history.values
    start = 0
    if after is not None:  # the newest points come last: walk back to the first one already seen
        start = len(stamps)
        while start > 0 and _seconds_or_inf(stamps[start - 1]) > after:
            start -= 1
    ts: list[float] = []
    vs: list[float] = []
    skipped = 0
    for stamp, value in zip(stamps[start:], values[start:], strict=True):
        try:
            t, x = _seconds(stamp), float(value)
        except (TypeError, ValueError, OverflowError):
            skipped += 1
            continue
        if not (math.isfinite(t) and math.isfinite(x)):
            skipped += 1
        elif t <= stop and (after is None or t > after):
            ts.append(t)
            vs.append(x)
    return np.asarray(ts, dtype=float), np.asarray(vs, dtype=float), skipped


def _seconds_or_inf(stamp: object) -> float:
    try:
        return _seconds(stamp)
    except TypeError:
        return math.inf


class AnomalyDetector:
    """Keeps one streaming detector per series (least recently used dropped past a limit).

    Each call feeds the points newer than the ones the series has already seen; asking about an
    earlier `now` than that rescores the given history from scratch instead (nothing stored changes).
    Deterministic for given settings, seed and points.
    """

    def __init__(self, settings: DetectorSettings, *, data_dir: Path, load: bool = True) -> None:
        self.settings = settings
        self.store = ModelStore(data_dir)
        self._states: OrderedDict[str, SeriesDetector] = OrderedDict()
        self.load_outcome = LoadOutcome(None, "not loaded")
        if load:
            self.load_outcome = self.store.load(MODEL_NAME, settings=self._model_settings())
            payload = self.load_outcome.payload
            if isinstance(payload, dict) and isinstance(payload.get("states"), dict):
                self._states = OrderedDict(payload["states"])
            elif payload is not None:
                self.load_outcome = LoadOutcome(None, "unexpected payload: starting fresh")

    # -- persistence ---------------------------------------------------------------------------
    def _model_settings(self) -> dict[str, object]:
        return {k: getattr(self.settings, k) for k in _MODEL_SETTINGS}

    def save(self) -> Path:
        """Write every series' state to `<data_dir>/models/`."""
        return self.store.save(MODEL_NAME, {"states": dict(self._states)}, settings=self._model_settings())

    def state_bytes(self, key: str) -> int:
        state = self._states.get(key)
        return 0 if state is None else state.nbytes()

    def __len__(self) -> int:
        return len(self._states)

    # -- scoring -------------------------------------------------------------------------------
    def score(self, history: MetricSeries, now: datetime, *, explain_normal: bool = True) -> DetectionResult:
        """Score `history` as of `now` (later points are ignored)."""
        from detectors.stream import SeriesDetector

        det = self._states.get(history.key)
        known = det is not None and det.points > 0
        try:
            if det is not None and known and _seconds(now) < det.last_t:
                ts, vs, skipped = usable_points(history, now)  # the past: rescored, nothing stored
                if len(ts) == 0:
                    return self._failed(history.key, DetectionStatus.INSUFFICIENT_DATA, "no usable points")
                past = SeriesDetector(self.settings)
                past.feed(ts, vs)
                return self._result(history.key, past, now, skipped, explain_normal)
            ts, vs, skipped = usable_points(
                history, now, after=det.last_t if det is not None and known else None
            )
        except ValueError as exc:  # timestamps and values of different lengths
            return self._failed(history.key, DetectionStatus.ERROR, f"unusable series: {exc}")
        if det is None or not known:
            if len(ts) == 0:
                why = "no usable points at or before now" + (f" ({skipped} skipped)" if skipped else "")
                return self._failed(history.key, DetectionStatus.INSUFFICIENT_DATA, why)
            det = det or SeriesDetector(self.settings)
            self._states[history.key] = det
        self._states.move_to_end(history.key)
        if len(ts):
            det.feed(ts, vs)
        while len(self._states) > self.settings.max_series_states:
            self._states.popitem(last=False)
        return self._result(history.key, det, now, skipped, explain_normal)

    def score_many(self, histories: Sequence[MetricSeries], now: datetime) -> list[DetectionResult]:
        """`score` for each series, in order; only anomalous results carry an explanation (a sweep
        explains its findings, not its thousands of normal series)."""
        return [self.score(h, now, explain_normal=False) for h in histories]

    def _failed(self, key: str, status: DetectionStatus, detail: str) -> DetectionResult:
        th = self.settings.threshold
        return DetectionResult(key, status, None, False, th, Explanation.of(detail), detail=detail)

    def _result(
        self, key: str, det: SeriesDetector, now: datetime, skipped: int, explain_normal: bool
    ) -> DetectionResult:
        threshold = self.settings.threshold
        recent = det.recent()
        latest = det.latest()
        if latest is None or latest.probability is None:
            need = max(self.settings.min_points - det.points, 0)
            why = f"{det.points} points seen, {need} more needed" if need else "detector still warming up"
            return DetectionResult(
                key, DetectionStatus.INSUFFICIENT_DATA, None, False, threshold, Explanation.of(why),
                scored_at=latest.at if latest else None, detail=why, recent=recent, skipped=skipped,
            )  # fmt: skip
        since = now - timedelta(minutes=self.settings.alert_window_minutes)
        score, probability = recent.peaks(since)
        if score is None:  # nothing scored inside the window: the series stopped reporting
            why = f"no scored point in the last {self.settings.alert_window_minutes:g} minutes"
            return DetectionResult(
                key, DetectionStatus.INSUFFICIENT_DATA, None, False, threshold, Explanation.of(why),
                scored_at=latest.at, detail=why, recent=recent, probability=latest.probability,
                skipped=skipped,
            )  # fmt: skip
        anomalous = score >= threshold
        if anomalous or explain_normal:
            alert_at = det.alert_at()
            # the alert's score comes from its latest non-repeat point when that is in the window
            about_alert = alert_at is not None and alert_at > since
            explanation = det.explanation(top=self.settings.explain_top, alert=about_alert)
        else:
            explanation = _NOT_EXPLAINED
        ceiling = det.ceiling()
        if not anomalous and ceiling is not None:  # say so rather than let "looks normal" mislead
            young = f"young series: {det.points} points of history, scores cannot pass {ceiling:.4f} yet"
            explanation = Explanation(
                explanation.reasons, f"{explanation.text} ({young})", explanation.signal
            )
        return DetectionResult(
            key, DetectionStatus.OK, score, anomalous, threshold, explanation,
            scored_at=latest.at, recent=recent, probability=probability, skipped=skipped,
        )  # fmt: skip
