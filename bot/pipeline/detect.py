"""The detect stage: is the metric behind an incident really anomalous, and why."""

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
from detectors.api import AnomalyDetector, DetectionStatus

log = get_logger(__name__)


@dataclass(frozen=True)
class Detection:
    status: AnomalyStatus
    score: float | None
    threshold: float | None
    is_anomalous: bool
    explanation: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def anomaly(self) -> Anomaly:
        return Anomaly(self.status, self.score, self.threshold, self.is_anomalous)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class DetectStage:
    def __init__(self, *, detector: AnomalyDetector, history: MetricHistory) -> None:
        self._detector = detector
        self._history = history
        self._lock = threading.Lock()  # the detector keeps per-series state

    def detect(self, alert: NormalizedAlert, now: datetime) -> Detection:
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
            scores = self._detector.score_series(series, now=now) if len(series) else []
        evidence = {
            "key": series.key,
            "unit": series.unit,
            "timestamps": [_iso(t) for t in series.timestamps],
            "values": list(series.values),
            "scores": scores,
            "threshold": result.threshold,
        }
        if result.status is DetectionStatus.OK:
            return Detection(
                AnomalyStatus.OK,
                result.score,
                result.threshold,
                result.is_anomalous,
                result.explanation.text,
                evidence,
            )
        status = (
            AnomalyStatus.INSUFFICIENT_DATA
            if result.status is DetectionStatus.INSUFFICIENT_DATA
            else AnomalyStatus.ERROR
        )
        text = result.explanation.text or result.detail or status.value
        return Detection(status, None, result.threshold, False, f"not scored: {text}", evidence)
