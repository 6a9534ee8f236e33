"""The detect stage: is the metric behind an incident really anomalous, and why.

Stage: detect.
Takes: the incident's trigger alert (`NormalizedAlert`) and the time.
Gives: `Detection` — status, alert score against the threshold, explanation, evidence (the points
  and their scores, for charts); a metric that cannot be fetched gives `insufficient_data`.

It scores the alert's metric with the same per-series streaming detector the backtest uses, so the
score stored on the incident is one the backtest of the same points would have written. The gate
reads the alert score: the highest point score in the `[detector] alert_window_minutes` before now
(an alarm fires after its anomaly began). Verification reads `probability`, the highest score before
de-duplication in the same window: de-duplication must not make a sustained anomaly look fixed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.alerts.normalized import NormalizedAlert
from bot.engine.gate import Anomaly, AnomalyStatus
from bot.errors import IntegrationError
from bot.logs import get_logger
from bot.pipeline.metric_history import MetricHistory, NoMetric
from detectors.api import AnomalyDetector, DetectionResult, DetectionStatus

log = get_logger(__name__)


@dataclass(frozen=True)
class Detection:
    status: AnomalyStatus
    score: float | None
    threshold: float | None
    is_anomalous: bool
    explanation: str
    evidence: dict[str, Any] = field(default_factory=dict)
    probability: float | None = None  # highest score before de-duplication in the alert window

    @property
    def anomaly(self) -> Anomaly:
        return Anomaly(self.status, self.score, self.threshold, self.is_anomalous)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _evidence(
    result: DetectionResult, timestamps: list[datetime], values: list[float], unit: str | None
) -> dict[str, Any]:
    """The fetched points with the detector's score of each (None where it has none: older than the
    series' recent scores, or skipped), for charts."""
    by_time = {p.at: p.score for p in result.recent or ()}
    return {
        "key": result.key,
        "unit": unit,
        "timestamps": [_iso(t) for t in timestamps],
        "values": list(values),
        "scores": [by_time.get(t) for t in timestamps],
        "threshold": result.threshold,
        "skipped": result.skipped,
    }


class DetectStage:
    """Stage `detect` (see the module docstring)."""

    name = "detect"

    def __init__(self, *, detector: AnomalyDetector, history: MetricHistory) -> None:
        self._detector = detector
        self._history = history
        self._lock = threading.Lock()  # the detector keeps per-series state

    def run(self, alert: NormalizedAlert, now: datetime) -> Detection:
        threshold = self._detector.settings.threshold
        try:
            series = self._history.fetch(alert, now)
        except NoMetric as exc:
            return Detection(AnomalyStatus.INSUFFICIENT_DATA, None, threshold, False, f"not scored: {exc}")
        except IntegrationError as exc:
            log.warning("metric fetch failed", alert=alert.name, error=str(exc))
            return Detection(
                AnomalyStatus.INSUFFICIENT_DATA,
                None,
                threshold,
                False,
                f"not scored: the metric could not be fetched ({exc})",
            )
        with self._lock:
            result = self._detector.score(series, now)
        if result.skipped:
            log.warning(
                "unusable metric points skipped", alert=alert.name, series=series.key, skipped=result.skipped
            )
        evidence = _evidence(result, series.timestamps, series.values, series.unit)
        if result.status is DetectionStatus.OK:
            return Detection(
                AnomalyStatus.OK,
                result.score,
                result.threshold,
                result.is_anomalous,
                result.explanation.text,
                evidence,
                probability=result.probability,
            )
        status = (
            AnomalyStatus.INSUFFICIENT_DATA
            if result.status is DetectionStatus.INSUFFICIENT_DATA
            else AnomalyStatus.ERROR
        )
        text = result.explanation.text or result.detail or status.value
        return Detection(status, None, result.threshold, False, f"not scored: {text}", evidence)
