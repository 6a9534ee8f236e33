"""/api/freezes, /api/circuits and "Run it" on a suggested run: the policies over HTTP.

Adding or ending a freeze and resuming a circuit need the approver role; "Run it" needs responder.
Every change is audited by the core functions it calls.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bot.access.policy import Action
from bot.errors import ConductorError, InvalidTransition, NotFound
from bot.http.access import reading, require
from bot.http.api import in_store, runtime_of
from bot.http.params import DurationMinutes, StoredId, UtcTime
from bot.policies.circuits import circuit_json, list_circuits, resume
from bot.policies.freeze_input import freeze_from_options
from bot.policies.freezes import add_freeze, end_freeze, freeze_json, list_freezes
from bot.roles import Principal

router = APIRouter(prefix="/api", dependencies=[Depends(reading("api"))])


class FreezeBody(BaseModel):
    """One-off: `ends_at` or `duration_minutes` (from `starts_at`, default now). Recurring: `cron`
    and `window_minutes` in `timezone`. `match`: scope matchers such as "service=orders"."""

    name: str = Field(min_length=1, max_length=200)
    match: list[str] = Field(default_factory=list, max_length=20)
    starts_at: UtcTime | None = None
    ends_at: UtcTime | None = None
    duration_minutes: DurationMinutes | None = None
    cron: str | None = Field(default=None, max_length=100)
    window_minutes: DurationMinutes | None = None
    timezone: str = Field(default="UTC", max_length=64)
    block: bool = False
    maintenance: bool = False
    comment: str = Field(default="", max_length=2000)


@router.get("/freezes")
async def get_freezes(request: Request, include_ended: bool = False) -> dict[str, Any]:
    runtime = runtime_of(request)
    now = runtime.clock()
    rows = await in_store(
        runtime,
        lambda s: [freeze_json(f, now) for f in list_freezes(s, now=now, include_ended=include_ended)],
    )
    return {"freezes": rows}


@router.post("/freezes", status_code=201)
async def post_freeze(
    request: Request, body: FreezeBody, who: Annotated[Principal, Depends(require(Action.FREEZE))]
) -> dict[str, Any]:
    runtime = runtime_of(request)
    now = runtime.clock()
    try:
        declared = freeze_from_options(
            name=body.name,
            matchers=body.match,
            now=now,
            duration=timedelta(minutes=body.duration_minutes) if body.duration_minutes else None,
            until=body.ends_at,
            starts=body.starts_at,
            cron=body.cron,
            window=timedelta(minutes=body.window_minutes) if body.window_minutes else None,
            timezone=body.timezone,
            block=body.block,
            maintenance=body.maintenance,
            comment=body.comment,
        )
    except ConductorError as exc:
        raise HTTPException(400, str(exc)) from None
    return await in_store(
        runtime,
        lambda s: freeze_json(add_freeze(s, declared, created_by=who.actor, origin="api", now=now), now),
    )


@router.post("/freezes/{freeze_id}/end")
async def post_freeze_end(
    request: Request, freeze_id: StoredId, who: Annotated[Principal, Depends(require(Action.FREEZE))]
) -> dict[str, Any]:
    runtime = runtime_of(request)
    now = runtime.clock()
    return await in_store(
        runtime, lambda s: freeze_json(end_freeze(s, freeze_id, actor=who.actor, now=now), now)
    )


@router.get("/circuits")
async def get_circuits(request: Request, include_closed: bool = False) -> dict[str, Any]:
    runtime = runtime_of(request)
    now = runtime.clock()
    rows = await in_store(
        runtime,
        lambda s: [circuit_json(c, now) for c in list_circuits(s, now=now, include_closed=include_closed)],
    )
    return {"circuits": rows}


class ResumeBody(BaseModel):
    scope: str = Field(min_length=1, max_length=300, description="runbook id, runbook:ID or service:NAME")


@router.post("/circuits/resume")
async def post_resume(
    request: Request, body: ResumeBody, who: Annotated[Principal, Depends(require(Action.RESUME))]
) -> dict[str, Any]:
    runtime = runtime_of(request)
    now = runtime.clock()
    closed = await in_store(
        runtime, lambda s: [circuit_json(c, now) for c in resume(s, body.scope, actor=who.actor, now=now)]
    )
    return {"closed": closed}


@router.post("/runs/{run_id}/run")
async def post_run_suggestion(
    request: Request, run_id: StoredId, who: Annotated[Principal, Depends(require(Action.RUN))]
) -> dict[str, Any]:
    """ "Run it" on a suggested run: the same runbook, target and params, requested by the caller."""
    runtime = runtime_of(request)
    try:
        outcome = await run_in_threadpool(runtime.engine.run_suggestion, run_id, requested_by=who.actor)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except ConductorError as exc:
        raise HTTPException(400, str(exc)) from None
    return {
        "run_id": outcome.run_id,
        "status": outcome.status,
        "decision": outcome.decision.value,
        "reason": outcome.reason,
        "approval_id": outcome.approval_id,
    }
