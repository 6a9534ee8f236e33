"""GET/POST /api/...: JSON views of incidents, silences, dead letters and the audit log.

Every route reads or acts as the principal behind its bearer token (`bot.http.access`): reading
needs viewer (unless `[permissions] anonymous_read` includes "api"), each change its own role.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bot.access.policy import Action, AddSilence
from bot.audit import list_audit
from bot.errors import ConductorError, InvalidTransition, NotFound, PermissionDenied
from bot.http.access import caller, enforce, reading, require
from bot.http.params import DurationMinutes, StoredId, UtcTime
from bot.incidents import service as incidents
from bot.incidents.silences import add_silence, expire_silence, list_silences, silence_json
from bot.matching import InvalidMatcher, parse_matcher
from bot.roles import Principal
from bot.runtime import Runtime
from bot.store.models import Alert, DeadLetter

router = APIRouter(prefix="/api", dependencies=[Depends(reading("api"))])
T = TypeVar("T")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def in_store(runtime: Runtime, work: Callable[[Any], T]) -> T:
    def run() -> T:
        with runtime.store.transaction() as session:
            return work(session)

    try:
        return await run_in_threadpool(run)
    except PermissionDenied as exc:
        raise HTTPException(403, f"{exc.reason}: {exc}") from None
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (InvalidTransition, InvalidMatcher) as exc:
        raise HTTPException(409 if isinstance(exc, InvalidTransition) else 400, str(exc)) from None
    except ConductorError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/incidents")
async def get_incidents(
    request: Request,
    status: Annotated[str, Query(pattern="^(open|all|resolved)$")] = "open",
    limit: int = 100,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    filt = incidents.IncidentFilter(scope=status, limit=min(max(limit, 1), 1000))
    items = await in_store(
        runtime, lambda s: [incidents.incident_json(i) for i in incidents.list_incidents(s, filt)]
    )
    return {"incidents": items}


@router.get("/incidents/{incident_id}")
async def get_incident(request: Request, incident_id: StoredId) -> dict[str, Any]:
    runtime = runtime_of(request)

    def work(session: Any) -> dict[str, Any]:
        data = incidents.incident_json(incidents.get_incident(session, incident_id))
        data["alerts"] = [incidents.alert_json(a) for a in incidents.incident_alerts(session, incident_id)]
        return data

    return await in_store(runtime, work)


@router.get("/alerts")
async def get_alerts(
    request: Request,
    muted: Annotated[str, Query(pattern="^(any|none|maintenance|silenced|inhibited)$")] = "any",
    limit: int = 100,
) -> dict[str, Any]:
    """Recent alerts, newest first; `muted=maintenance` shows those a maintenance window marked
    (kept and shown, but they opened no incident)."""
    runtime = runtime_of(request)
    query = select(Alert).order_by(Alert.last_seen.desc(), Alert.id.desc()).limit(min(max(limit, 1), 1000))
    if muted == "none":
        query = query.where(Alert.muted_reason == "")
    elif muted != "any":
        query = query.where(Alert.muted_reason.like(f"{muted}:%"))
    return {"alerts": await in_store(runtime, lambda s: [incidents.alert_json(a) for a in s.scalars(query)])}


@router.post("/incidents/{incident_id}/ack")
async def ack_incident(
    request: Request, incident_id: StoredId, who: Annotated[Principal, Depends(require(Action.ACKNOWLEDGE))]
) -> dict[str, Any]:
    runtime = runtime_of(request)
    return await in_store(
        runtime,
        lambda s: incidents.incident_json(
            incidents.acknowledge(s, incident_id, actor=who.actor, now=runtime.clock())
        ),
    )


@router.post("/incidents/{incident_id}/resolve")
async def resolve_incident(
    request: Request, incident_id: StoredId, who: Annotated[Principal, Depends(require(Action.RESOLVE))]
) -> dict[str, Any]:
    runtime = runtime_of(request)
    return await in_store(
        runtime,
        lambda s: incidents.incident_json(
            incidents.resolve(s, incident_id, actor=who.actor, now=runtime.clock())
        ),
    )


@router.get("/audit")
async def get_audit(
    request: Request, since: UtcTime | None = None, subject: str | None = None, limit: int = 100
) -> dict[str, Any]:
    runtime = runtime_of(request)
    entries = await in_store(
        runtime, lambda s: list_audit(s, since=since, subject=subject, limit=min(max(limit, 1), 1000))
    )
    return {"entries": [e.to_json() for e in entries]}


class SilenceRequest(BaseModel):
    matchers: list[str] = Field(min_length=1, description='e.g. ["alertname=HighCPU", "service=~api.*"]')
    duration_minutes: DurationMinutes | None = None
    ends_at: UtcTime | None = None
    comment: str = ""


@router.get("/silences")
async def get_silences(request: Request, include_expired: bool = False) -> dict[str, Any]:
    runtime = runtime_of(request)
    now = runtime.clock()
    items = await in_store(
        runtime,
        lambda s: [silence_json(x, now) for x in list_silences(s, now=now, include_expired=include_expired)],
    )
    return {"silences": items}


@router.post("/silences", status_code=201)
async def post_silence(
    request: Request, body: SilenceRequest, who: Annotated[Principal, Depends(caller)]
) -> dict[str, Any]:
    """Silencing needs responder; one that matches every alert, or lasts longer than
    `[permissions] max_silence_hours`, needs admin."""
    runtime = runtime_of(request)
    now = runtime.clock()
    if body.ends_at is None and body.duration_minutes is None:
        raise HTTPException(400, "give ends_at or duration_minutes")
    ends_at: datetime = body.ends_at or now + timedelta(minutes=body.duration_minutes or 0)
    try:
        matchers = [parse_matcher(m) for m in body.matchers]
    except InvalidMatcher as exc:
        raise HTTPException(400, str(exc)) from None
    await run_in_threadpool(enforce, request, who, AddSilence(tuple(matchers), ends_at - now))

    def work(session: Any) -> dict[str, Any]:
        silence = add_silence(
            session,
            matchers=matchers,
            starts_at=now,
            ends_at=ends_at,
            created_by=who.actor,
            comment=body.comment,
            origin="api",
            now=now,
        )
        return silence_json(silence, now)

    return await in_store(runtime, work)


@router.delete("/silences/{silence_id}")
async def delete_silence(
    request: Request, silence_id: StoredId, who: Annotated[Principal, Depends(require(Action.UNSILENCE))]
) -> dict[str, Any]:
    runtime = runtime_of(request)
    now = runtime.clock()
    return await in_store(
        runtime, lambda s: silence_json(expire_silence(s, silence_id, actor=who.actor, now=now), now)
    )


@router.get("/deadletters")
async def get_dead_letters(request: Request, limit: int = 100) -> dict[str, Any]:
    runtime = runtime_of(request)

    def work(session: Any) -> list[dict[str, Any]]:
        rows = session.scalars(
            select(DeadLetter).order_by(DeadLetter.id.desc()).limit(min(max(limit, 1), 1000))
        )
        return [
            {
                "id": d.id,
                "source": d.source,
                "received_at": d.received_at.isoformat(),
                "reason": d.reason,
                "replayed_at": d.replayed_at.isoformat() if d.replayed_at else None,
                "size": len(d.body),
            }
            for d in rows
        ]

    return {"dead_letters": await in_store(runtime, work)}
