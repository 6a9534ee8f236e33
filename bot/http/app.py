"""The one HTTP server: webhooks, Slack, health, metrics and the JSON API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.console.routes import mount_console
from bot.http import api, docs, health, kpis_api, policies_api, runs_api, webhooks
from bot.http import sweeps as sweeps_api
from bot.http.middleware import RequestContext
from bot.logs import get_logger
from bot.runtime import Runtime

log = get_logger(__name__)

Extension = Callable[[FastAPI, Runtime], None]


async def _store_failed(request: Request, exc: Exception) -> JSONResponse:
    """The store failing is not the caller's fault and may pass: 503, logged with its traceback."""
    log.error("store failure while answering a request", path=request.url.path, exc_info=exc)
    return JSONResponse({"error": "the store is unavailable; retry"}, status_code=503)


def create_app(
    runtime: Runtime, *, background: bool = True, extensions: tuple[Extension, ...] = ()
) -> FastAPI:
    """Build the app. With `background`, workers start and stop with the server's lifespan."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if background:
            runtime.start_background()
            log.info("workers started", threads=runtime.settings.workers.threads)
        try:
            yield
        finally:
            if background:
                grace = runtime.settings.server.shutdown_grace_seconds
                stopped = runtime.stop_background(grace)
                log.info("workers stopped", clean=stopped)

    app = FastAPI(
        title="Cloud Conductor",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by bot.http.docs, behind the read check
        openapi_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.add_exception_handler(SQLAlchemyError, _store_failed)
    app.include_router(health.router)
    app.include_router(docs.router)
    docs.mount_assets(app)
    app.include_router(webhooks.router)
    app.include_router(api.router)
    app.include_router(kpis_api.router)
    app.include_router(runs_api.router)
    app.include_router(policies_api.router)
    app.include_router(sweeps_api.router)
    mount_console(app, runtime)
    for extend in (*extensions, *runtime.http_extensions):
        extend(app, runtime)
    app.add_middleware(RequestContext, metrics=runtime.metrics)
    return app
