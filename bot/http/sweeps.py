"""GET /api/sweeps: each sweep's schedule, last and next run, duration, series scanned, findings and
source health, plus the replica holding the scheduler lease."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from bot.http.access import reading
from bot.http.api import runtime_of
from bot.scheduler.status import sweeps_overview
from bot.sweeps.runs import latest_runs, run_json

router = APIRouter(prefix="/api", dependencies=[Depends(reading("api"))])


@router.get("/sweeps")
async def get_sweeps(request: Request, findings: bool = False) -> dict[str, Any]:
    """`?findings=true` includes each last run's findings (otherwise only their count)."""
    runtime = runtime_of(request)
    now = runtime.clock()

    def work() -> dict[str, Any]:
        with runtime.store.sessions() as session:
            return sweeps_overview(runtime.settings, session, now, with_findings=findings)

    return await run_in_threadpool(work)


@router.get("/sweeps/{name}")
async def get_sweep(request: Request, name: str) -> dict[str, Any]:
    """One sweep with its last run's findings."""
    runtime = runtime_of(request)
    if name not in {s.name for s in runtime.settings.sweeps}:
        raise HTTPException(404, f"no sweep named {name!r}")

    def work() -> dict[str, Any]:
        with runtime.store.sessions() as session:
            overview = sweeps_overview(runtime.settings, session, runtime.clock())
            item: dict[str, Any] = next(s for s in overview["sweeps"] if s["name"] == name)
            run = latest_runs(session, [name]).get(name)
            item["last_run"] = run_json(run) if run is not None else None
            return item

    return await run_in_threadpool(work)
