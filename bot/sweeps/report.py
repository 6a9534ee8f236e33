"""What a sweep run produces: findings (data, not messages), the sources' health, and counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from integrations.metrics import SourceHealth

RunStatus = Literal["running", "ok", "degraded", "failed", "abandoned"]
# Progress callback: (what is happening, units done, units in total). The CLI draws a bar with it.
Progress = Callable[[str, int, int], None]


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class SourceReport:
    """One outside system as this run saw it. A source that failed is listed, never dropped."""

    source: str
    healthy: bool
    series: int = 0
    error: str | None = None
    consecutive_failures: int = 0
    last_success_at: datetime | None = None

    @classmethod
    def of(cls, health: SourceHealth, *, series: int = 0, error: str | None = None) -> SourceReport:
        return cls(
            source=health.source,
            healthy=health.healthy and error is None,
            series=series,
            error=error,
            consecutive_failures=health.consecutive_failures,
            last_success_at=health.last_success_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "healthy": self.healthy,
            "series": self.series,
            "error": self.error,
            "consecutive_failures": self.consecutive_failures,
            "last_success_at": iso(self.last_success_at),
        }


@dataclass(slots=True)
class KindResult:
    """What one kind of sweep returns to the runner. `problems` make the run `degraded`."""

    series_scanned: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)
    sources: list[SourceReport] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SweepReport:
    sweep: str
    kind: str
    trigger: str  # schedule | manual
    tick: datetime
    started_at: datetime
    finished_at: datetime
    status: RunStatus
    series_scanned: int
    findings: list[dict[str, Any]]
    sources: list[SourceReport]
    details: dict[str, Any]
    error: str = ""
    run_id: int | None = None

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def unhealthy_sources(self) -> list[SourceReport]:
        return [s for s in self.sources if not s.healthy]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "sweep": self.sweep,
            "kind": self.kind,
            "trigger": self.trigger,
            "tick": iso(self.tick),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_seconds": round(self.duration_seconds, 3),
            "status": self.status,
            "series_scanned": self.series_scanned,
            "findings_count": len(self.findings),
            "findings": self.findings,
            "sources": [s.to_json() for s in self.sources],
            "details": self.details,
            "error": self.error,
        }


def status_of(result: KindResult) -> RunStatus:
    if result.problems or any(not s.healthy for s in result.sources):
        return "degraded"
    return "ok"
