"""Run one configured sweep now: `run_sweep(name, context=..., now=...)` -> `SweepReport`.

The scheduler calls it for a tick it has claimed; `conductor sweep run NAME` calls it directly.
Every run is stored in `sweep_runs` (findings, series scanned, duration, each source's health) and
audited; a run that raises is recorded as `failed` with the error, never lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.claims import worker_name
from bot.clock import Clock, utc_now
from bot.config.root import Settings
from bot.config.sweeps import SweepSettings
from bot.errors import ConductorError
from bot.logs import get_logger
from bot.store.db import Store
from bot.sweeps.report import KindResult, Progress, RunStatus, SweepReport, iso, status_of
from bot.sweeps.runs import claim_tick, finish_run
from bot.sweeps.sources import SweepSources
from detectors.api import DetectionResult
from detectors.series import MetricSeries
from detectors.settings import DetectorSettings

if TYPE_CHECKING:
    from detectors.api import AnomalyDetector

log = get_logger(__name__)


class SweepNotFound(ConductorError):
    """No configured sweep has that name; the message lists the known ones."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = list(known)
        listed = ", ".join(self.known) if self.known else "none configured"
        super().__init__(f"no sweep named {name!r} (known: {listed})")


class SharedDetector:
    """One detector per process, shared by the sweeps; scoring is serialized (it keeps state)."""

    def __init__(self, build: Callable[[], AnomalyDetector]) -> None:
        self._build = build
        self._detector: AnomalyDetector | None = None
        self._lock = threading.Lock()

    def _get(self) -> AnomalyDetector:
        if self._detector is None:
            self._detector = self._build()
        return self._detector

    @property
    def settings(self) -> DetectorSettings:
        with self._lock:
            return self._get().settings

    def score_many(self, histories: Sequence[MetricSeries], now: datetime) -> list[DetectionResult]:
        with self._lock:
            return self._get().score_many(histories, now)


def default_detector(settings: Settings) -> AnomalyDetector:
    from detectors.api import AnomalyDetector

    # Sweeps keep their detector in memory (it warms up run after run) and never overwrite the model
    # the detect stage saves under data_dir.
    return AnomalyDetector(settings.detector, data_dir=settings.data_dir, load=False)


@dataclass
class SweepContext:
    """What a sweep run needs. Built once per process (by the composition root) or per CLI invocation."""

    settings: Settings
    store: Store
    sources: SweepSources
    clock: Clock = utc_now
    holder: str = field(default_factory=worker_name)
    detector: SharedDetector | None = None

    def __post_init__(self) -> None:
        if self.detector is None:
            settings = self.settings
            self.detector = SharedDetector(lambda: default_detector(settings))


def find_sweep(settings: Settings, name: str) -> SweepSettings:
    for sweep in settings.sweeps:
        if sweep.name == name:
            return sweep
    raise SweepNotFound(name, [s.name for s in settings.sweeps])


def run_sweep(
    name: str,
    *,
    context: SweepContext,
    now: datetime | None = None,
    progress: Progress | None = None,
    trigger: str = "manual",
    tick: datetime | None = None,
    run_id: int | None = None,
) -> SweepReport:
    """Run sweep `name` with data up to `now` (default: the clock). The scheduler passes the `tick`
    and the `run_id` it claimed; a manual run claims a row of its own."""
    sweep = find_sweep(context.settings, name)
    started = context.clock()
    as_of = now or started
    tick = tick or started
    if run_id is None:
        run_id = claim_tick(
            context.store, sweep=sweep.name, kind=sweep.kind, tick=tick, trigger=trigger,
            holder=context.holder, now=started,
        )  # fmt: skip
        if run_id is None:
            raise ConductorError(f"sweep {name}: a run for tick {iso(tick)} already exists")
    delivery_id = f"{sweep.name}:{iso(tick)}"
    error = ""
    status: RunStatus
    try:
        result = _execute(sweep, context, now=as_of, delivery_id=delivery_id, progress=progress)
        status = status_of(result)
        error = "; ".join(result.problems)
    except Exception as exc:
        log.exception("sweep failed", sweep=sweep.name, tick=iso(tick))
        result, status, error = KindResult(), "failed", f"{type(exc).__name__}: {exc}"
    report = SweepReport(
        sweep=sweep.name,
        kind=sweep.kind,
        trigger=trigger,
        tick=tick,
        started_at=started,
        finished_at=context.clock(),
        status=status,
        series_scanned=result.series_scanned,
        findings=result.findings,
        sources=result.sources,
        details={"as_of": iso(as_of), **result.details},
        error=error,
        run_id=run_id,
    )
    finish_run(context.store, run_id, report, actor=context.holder if trigger == "schedule" else "cli")
    log.info(
        "sweep finished",
        sweep=sweep.name,
        status=report.status,
        series=report.series_scanned,
        findings=len(report.findings),
        seconds=round(report.duration_seconds, 3),
    )
    return report


def _execute(
    sweep: SweepSettings, context: SweepContext, *, now: datetime, delivery_id: str, progress: Progress | None
) -> KindResult:
    if sweep.kind == "anomaly":
        from bot.sweeps.anomaly import run_anomaly

        assert context.detector is not None
        return run_anomaly(
            sweep, sources=context.sources, detector=context.detector, store=context.store, now=now,
            delivery_id=delivery_id, progress=progress,
        )  # fmt: skip
    if sweep.kind == "waste":
        from bot.sweeps.waste import run_waste

        return run_waste(sweep, sources=context.sources, now=now, progress=progress)
    if sweep.kind == "digest":
        from bot.sweeps.digest import run_digest

        return run_digest(sweep, sources=context.sources, store=context.store, now=now)
    from bot.sweeps.budget import run_budget

    return run_budget(
        sweep,
        sources=context.sources,
        store=context.store,
        now=now,
        delivery_id=delivery_id,
        progress=progress,
    )
