"""GET /api/kpis: the KPIs of a window (docs/kpis.md), for whoever may read the API (viewer)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from bot.http.access import reading
from bot.http.api import in_store, runtime_of
from bot.kpis.compute import compute_kpis
from bot.timeparse import InvalidDuration, parse_duration

router = APIRouter(prefix="/api", dependencies=[Depends(reading("api"))])
# A year of history is the most one request computes (the report walks every incident in it).
MAX_DAYS = 366


@router.get("/kpis")
async def get_kpis(
    request: Request,
    since: Annotated[str, Query(max_length=40, description="How far back, e.g. 7d, 30d, 12h.")] = "30d",
    service: Annotated[
        str | None, Query(max_length=200, description="Only alerts labelled service=S.")
    ] = None,
) -> dict[str, Any]:
    """MTTD, MTTA, MTTR, automatic resolution rate, runbook effectiveness, approvals and noise."""
    try:
        window = parse_duration(since)
    except InvalidDuration as exc:
        raise HTTPException(400, str(exc)) from None
    if window.days > MAX_DAYS:
        raise HTTPException(400, f"since: at most {MAX_DAYS}d")
    runtime = runtime_of(request)
    until = runtime.clock()

    def work(session: Session) -> dict[str, Any]:
        return compute_kpis(session, since=until - window, until=until, service=service).to_json()

    return await in_store(runtime, work)
