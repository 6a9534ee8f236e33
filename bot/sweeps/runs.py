"""The `sweep_runs` table: claiming a tick, recording a run's outcome, reading the latest runs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.store.db import Store
from bot.store.models import SweepRun
from bot.sweeps.report import SweepReport, iso


def claim_tick(
    store: Store, *, sweep: str, kind: str, tick: datetime, trigger: str, holder: str, now: datetime
) -> int | None:
    """Insert the run row for `(sweep, tick)`; None when that tick was already claimed (by anyone)."""
    insert = sqlite_insert if store.is_sqlite else pg_insert
    with store.transaction() as session:
        run_id = session.execute(
            insert(SweepRun)
            .values(
                sweep=sweep,
                kind=kind,
                tick=tick,
                trigger=trigger,
                holder=holder,
                status="running",
                started_at=now,
                series_scanned=0,
                findings_count=0,
                findings=[],
                sources=[],
                details={},
                error="",
            )
            .on_conflict_do_nothing(index_elements=["sweep", "tick"])
            .returning(SweepRun.id)
        ).scalar()
    return None if run_id is None else int(run_id)


def finish_run(store: Store, run_id: int, report: SweepReport, *, actor: str) -> None:
    """Store the outcome and audit it, in one transaction."""
    with store.transaction() as session:
        session.execute(
            update(SweepRun)
            .where(SweepRun.id == run_id)
            .values(
                status=report.status,
                started_at=report.started_at,
                finished_at=report.finished_at,
                duration_seconds=report.duration_seconds,
                series_scanned=report.series_scanned,
                findings_count=len(report.findings),
                findings=report.findings,
                sources=[s.to_json() for s in report.sources],
                details=report.details,
                error=report.error,
            )
        )
        audit(
            session,
            at=report.finished_at,
            actor=actor,
            subject=f"sweep:{report.sweep}",
            action=f"sweep.{report.status}",
            details={
                "run_id": run_id,
                "kind": report.kind,
                "trigger": report.trigger,
                "tick": iso(report.tick),
                "duration_seconds": round(report.duration_seconds, 3),
                "series_scanned": report.series_scanned,
                "findings": len(report.findings),
                "unhealthy_sources": [s.source for s in report.unhealthy_sources],
                "error": report.error,
            },
        )


def abandon_runs(store: Store, *, not_holder: str, now: datetime, actor: str) -> int:
    """Scheduled runs still `running` under another holder were cut off (their process died);
    the new leader marks them `abandoned` so they do not look in progress forever."""
    with store.transaction() as session:
        stale = session.scalars(
            select(SweepRun).where(
                SweepRun.status == "running", SweepRun.trigger == "schedule", SweepRun.holder != not_holder
            )
        ).all()
        for run in stale:
            run.status = "abandoned"
            run.finished_at = now
            run.error = f"holder {run.holder} lost the scheduler lease before finishing"
            audit(
                session,
                at=now,
                actor=actor,
                subject=f"sweep:{run.sweep}",
                action="sweep.abandoned",
                details={"run_id": run.id, "tick": iso(run.tick), "holder": run.holder},
            )
        return len(stale)


def latest_runs(session: Session, names: Iterable[str]) -> dict[str, SweepRun]:
    latest: dict[str, SweepRun] = {}
    for name in names:
        row = session.scalars(
            select(SweepRun).where(SweepRun.sweep == name).order_by(SweepRun.started_at.desc()).limit(1)
        ).first()
        if row is not None:
            latest[name] = row
    return latest


def run_json(run: SweepRun, *, with_findings: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "run_id": run.id,
        "tick": iso(run.tick),
        "trigger": run.trigger,
        "holder": run.holder,
        "status": run.status,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_seconds": run.duration_seconds,
        "series_scanned": run.series_scanned,
        "findings_count": run.findings_count,
        "sources": list(run.sources or []),
        "error": run.error,
    }
    if with_findings:
        data["findings"] = list(run.findings or [])
    return data
