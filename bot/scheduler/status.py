"""The sweeps at a glance, for `GET /api/sweeps` and `conductor sweep list`: schedule, last and next
run, duration, series scanned, findings, each source's health, and who holds the scheduler lease."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.config.root import Settings
from bot.scheduler.lease import read_lease
from bot.scheduler.triggers import next_tick
from bot.sweeps.report import iso
from bot.sweeps.runs import latest_runs, run_json


def sweeps_overview(
    settings: Settings, session: Session, now: datetime, *, with_findings: bool = False
) -> dict[str, Any]:
    latest = latest_runs(session, [s.name for s in settings.sweeps])
    lease = read_lease(session, "scheduler")
    live = lease is not None and lease.live(now)
    scheduling = settings.scheduler.enabled
    items = []
    for sweep in settings.sweeps:
        run = latest.get(sweep.name)
        last = run_json(run, with_findings=with_findings) if run is not None else None
        scheduled = scheduling and sweep.enabled
        unhealthy = [s["source"] for s in (last or {}).get("sources", []) if not s.get("healthy", True)]
        items.append(
            {
                "name": sweep.name,
                "kind": sweep.kind,
                "enabled": sweep.enabled,
                "schedule": sweep.schedule.describe(),
                "jitter_seconds": sweep.jitter_seconds,
                "next_run": iso(next_tick(sweep, now, timezone=settings.scheduler.timezone))
                if scheduled
                else None,
                "last_run": last,
                "healthy": last is not None and last["status"] == "ok" and not unhealthy,
                "unhealthy_sources": unhealthy,
            }
        )
    return {
        "scheduler": {
            "enabled": scheduling,
            "leader": lease.holder if live and lease is not None else None,
            "lease_expires_at": iso(lease.expires_at) if live and lease is not None else None,
            "lease_seconds": settings.scheduler.lease_seconds,
        },
        "sweeps": items,
    }
