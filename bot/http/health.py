"""GET /healthz (process up), /readyz (store reachable, migrations current, intake running; the
backlog's age), /metrics.

/healthz and /readyz answer anyone (load balancers); /metrics needs a viewer token unless
`[permissions] anonymous_read` includes "metrics".
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.backlog import backlog_ages
from bot.http.access import reading
from bot.runtime import Runtime

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    ready, reason = await run_in_threadpool(runtime.store_ready)
    intake = runtime.intake.ready()
    draining = runtime.draining_since is not None  # SIGTERM: the load balancer should look elsewhere
    body: dict[str, object] = {
        "status": "ready" if ready and intake is None and not draining else "not_ready"
    }
    body.update(store=reason, intake=intake or "ok")
    if draining:
        body["draining"] = True
    if ready:
        # Shown, not judged: a replica taken out of the load balancer would stop taking webhooks,
        # which are stored durably however far behind the workers are. Alert on the metric.
        try:
            ages = await run_in_threadpool(backlog_ages, runtime.store, runtime.clock())
        except SQLAlchemyError as exc:
            body["backlog"] = f"unavailable: {exc.__class__.__name__}"
        else:
            body["backlog"] = {
                "oldest_pending_event_age_seconds": ages.raw_events,
                "oldest_queued_job_age_seconds": ages.jobs,
            }
    return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)


@router.get("/metrics", dependencies=[Depends(reading("metrics"))])
async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    payload = await run_in_threadpool(generate_latest, runtime.metrics.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
