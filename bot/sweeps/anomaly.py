"""The anomaly sweep: score every configured series, raise an alert for each anomalous one.

Anomalies enter the pipeline exactly like webhook alerts: one raw event of source `sweep`, stored
durably and processed by the workers (dedupe, silences, grouping, rules, runbooks, Slack). Each
series has a stable fingerprint (`sweep:<series key>`), so a series that stays anomalous updates the
same alert and incident instead of opening new ones. A series fires when its alert score (the same
per-point score the backtest writes) reaches the threshold within `recent_minutes` (or the
detector's `alert_window_minutes`, if longer); a series that
had a firing sweep alert resolves when no point of the last `resolve_after_minutes` has a
probability at or above the threshold (the score before alert de-duplication: a sustained anomaly
raises one alert but is not over). The detector adapts, so a sustained new level stops scoring as
anomalous after a while, which is why recovery waits for a whole window of calm.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select

from bot.alerts.normalized import AlertStatus, NormalizedAlert
from bot.config.sweeps import SweepSettings
from bot.ingest.internal import submit_internal_alerts
from bot.store.db import Store
from bot.store.models import Alert
from bot.sweeps.collect import TaggedSeries, collect, total_points
from bot.sweeps.report import KindResult, Progress, iso
from bot.sweeps.sources import SweepSources
from detectors.api import DetectionResult, DetectionStatus
from detectors.series import MetricSeries
from detectors.settings import DetectorSettings
from integrations.generic.internal import SWEEP


class Scorer(Protocol):
    """What the sweep needs of `detectors.api.AnomalyDetector`."""

    @property
    def settings(self) -> DetectorSettings: ...

    def score_many(self, histories: Sequence[MetricSeries], now: datetime) -> list[DetectionResult]: ...


SCORE_CHUNK = 500  # series per score_many call: large enough to batch, small enough to show progress


def series_fingerprint(key: str) -> str:
    """`sweep:<series key>`, hashed when it would not fit the store's 255 characters."""
    fingerprint = f"sweep:{key}"
    if len(fingerprint) <= 255:
        return fingerprint
    return "sweep:sha256:" + hashlib.sha256(key.encode()).hexdigest()


def peak_recent(
    result: DetectionResult, since: datetime, *, probability: bool = False
) -> tuple[datetime | None, float | None]:
    """The highest point score (or, with `probability`, the highest probability) after `since`;
    (None, None) when the series has no scored point that recent (it stopped reporting)."""
    if result.recent is None:
        return None, None
    return result.recent.peak(since, probability=probability)


def run_anomaly(
    sweep: SweepSettings,
    *,
    sources: SweepSources,
    detector: Scorer,
    store: Store,
    now: datetime,
    delivery_id: str,
    progress: Progress | None = None,
) -> KindResult:
    collected = collect(
        sweep, sources, end=now, lookback=timedelta(minutes=sweep.lookback_minutes), progress=progress
    )
    scanned, points = len(collected.series), total_points(collected.series)
    pending = deque(collected.series)
    collected.series = []  # scored chunks are let go: memory peaks at the fetch, not after it
    judge = _Judge(sweep, now, alert_window=detector.settings.alert_window_minutes)
    while pending:
        if progress is not None:
            progress("scoring", scanned - len(pending), scanned)
        chunk = [pending.popleft() for _ in range(min(SCORE_CHUNK, len(pending)))]
        for item, result in zip(chunk, detector.score_many([t.series for t in chunk], now), strict=True):
            judge.add(item, result)
    if progress is not None:
        progress("scored", scanned, scanned)
    resolved = [
        _alert(sweep, judge.normal[fp], {"score": None}, firing=False, at=now)
        for fp in _firing(store, list(judge.normal))
    ]
    alerts = judge.alerts + resolved
    if alerts:
        submit_internal_alerts(store, source=SWEEP, alerts=alerts, delivery_id=delivery_id, now=now)
    judge.findings.sort(key=lambda f: -float(f["score"]))
    return KindResult(
        series_scanned=scanned,
        findings=judge.findings,
        sources=collected.sources,
        details={
            "points": points,
            "scored": judge.statuses,
            "no_recent_points": judge.stale,
            "alerts_firing": len(judge.alerts),
            "alerts_resolved": len(resolved),
            "threshold": detector.settings.threshold,
        },
    )


class _Judge:
    """Turns detection results into findings and alerts, keeping nothing of a series but its identity."""

    def __init__(self, sweep: SweepSettings, now: datetime, *, alert_window: float) -> None:
        self.sweep = sweep
        self.now = now
        # An alert is judged over at least the detector's alert window, as the gate judges it: a
        # sustained anomaly alerts at its onset, and its later points are repeats of that alert.
        self.since = now - timedelta(minutes=max(sweep.recent_minutes, alert_window))
        self.clear_since = now - timedelta(minutes=sweep.resolve_after_minutes)
        self.findings: list[dict[str, Any]] = []
        self.alerts: list[NormalizedAlert] = []
        # normal for the whole recovery window: their sweep alert, if firing, resolves
        self.normal: dict[str, TaggedSeries] = {}
        self.statuses = {s.value: 0 for s in DetectionStatus}
        self.stale = 0

    def add(self, item: TaggedSeries, result: DetectionResult) -> None:
        self.statuses[result.status.value] += 1
        if result.status is not DetectionStatus.OK and result.probability is None:
            return  # never scored (warming up, no usable point); a scored series gone quiet is stale
        at, score = peak_recent(result, self.since)
        if score is None:  # scored, but no point within recent_minutes: neither raise nor resolve
            self.stale += 1
            return
        fingerprint = series_fingerprint(item.series.key)
        if score >= result.threshold:
            finding = _finding(self.sweep, item, result, fingerprint, at, score)
            self.findings.append(finding)
            self.alerts.append(_alert(self.sweep, item, finding, firing=True, at=at or self.now))
            return
        _, worst = peak_recent(result, self.clear_since, probability=True)
        if worst is not None and worst < result.threshold:  # else: calmer, but not for long enough
            bare = MetricSeries(item.series.key, [], [], unit=item.series.unit)
            self.normal[fingerprint] = TaggedSeries(bare, item.resource, item.metric)


def _firing(store: Store, fingerprints: list[str]) -> list[str]:
    """Which of these series have a firing sweep alert (those are resolved now)."""
    firing: list[str] = []
    with store.sessions() as session:
        for offset in range(0, len(fingerprints), 500):
            chunk = fingerprints[offset : offset + 500]
            firing += session.scalars(
                select(Alert.fingerprint).where(
                    Alert.source == SWEEP, Alert.status == "firing", Alert.fingerprint.in_(chunk)
                )
            ).all()
    return firing


def _finding(
    sweep: SweepSettings,
    item: TaggedSeries,
    result: DetectionResult,
    fingerprint: str,
    at: datetime | None,
    score: float,
) -> dict[str, Any]:
    value = None
    if at is not None and at in item.series.timestamps:
        value = item.series.values[item.series.timestamps.index(at)]
    elif item.series.values:
        value = item.series.values[-1]
    return {
        "type": "anomaly",
        "fingerprint": fingerprint,
        "series": item.series.key,
        "resource": item.resource.model_dump(mode="json"),
        "metric": item.metric.model_dump(mode="json"),
        "score": score,
        "threshold": result.threshold,
        "at": iso(at),
        "value": value,
        "explanation": result.explanation.text,
        "points": len(item.series),
    }


def _alert(
    sweep: SweepSettings, item: TaggedSeries, finding: dict[str, Any], *, firing: bool, at: datetime
) -> NormalizedAlert:
    metric_name = item.metric.name or "metric"
    where = item.resource.name or item.resource.id or item.series.key
    score = finding.get("score")
    annotations = {"series": item.series.key}
    if score is not None:
        annotations |= {
            "anomaly_score": f"{score:.6f}",
            "anomaly_threshold": f"{finding['threshold']:.6f}",
            "explanation": str(finding.get("explanation", "")),
        }
    metric = item.metric.model_copy(update={"value": finding.get("value")})
    return NormalizedAlert(
        source=SWEEP,
        fingerprint=series_fingerprint(item.series.key),
        name=f"{metric_name} anomaly",
        status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
        severity=sweep.severity,
        summary=(
            f"{metric_name} on {where} is anomalous (score {score:.4f})"
            if firing and score is not None
            else f"{metric_name} on {where} is back to normal"
        ),
        description=str(finding.get("explanation", "")),
        resource=item.resource,
        metric=metric,
        starts_at=at if firing else None,
        ends_at=None if firing else at,
        labels={"sweep": sweep.name, "detector": "isolation_forest"},
        annotations=annotations,
    )
