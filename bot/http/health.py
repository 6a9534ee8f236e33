"""GET /healthz (process up), /readyz (store reachable, migrations current, intake running), /metrics.

/healthz and /readyz answer anyone (load balancers); /metrics needs a viewer token unless
`[permissions] anonymous_read` includes "metrics".
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

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
    ready = ready and intake is None
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "store": reason, "intake": intake or "ok"},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", dependencies=[Depends(reading("metrics"))])
async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    payload = await run_in_threadpool(generate_latest, runtime.metrics.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
