"""POST /webhooks/{source}: authenticate, validate, store durably, answer 202."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.errors import IntegrationError, MalformedPayload, Unauthenticated, UnknownSource
from bot.ingest.committer import StoreUnavailable
from bot.ingest.intake import UnsupportedMediaType
from bot.logs import get_logger
from bot.runtime import Runtime

log = get_logger(__name__)
router = APIRouter()


class BodyTooLarge(Exception):
    pass


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


@router.post("/webhooks/{source}", status_code=202)
async def receive_webhook(source: str, request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    metrics = runtime.metrics
    limit = runtime.settings.ingest.max_body_bytes
    try:
        body = await read_limited(request, limit)
    except BodyTooLarge:
        metrics.webhooks.labels(source=source, outcome="too_large").inc()
        return _error(413, f"body larger than {limit} bytes")
    headers = dict(request.headers)
    try:
        prepared = await run_in_threadpool(runtime.intake.prepare, source, body, headers)
    except UnknownSource as exc:
        return _error(404, str(exc))
    except Unauthenticated as exc:
        metrics.webhooks.labels(source=source, outcome="unauthenticated").inc()
        log.warning("webhook refused", source=source, reason=str(exc))
        return _error(401, "unauthenticated", reason=str(exc))
    except UnsupportedMediaType as exc:
        metrics.webhooks.labels(source=source, outcome="unsupported_media_type").inc()
        return _error(415, exc.reason)
    except MalformedPayload as exc:
        metrics.webhooks.labels(source=source, outcome="malformed").inc()
        log.warning("webhook malformed; kept as a dead letter", source=source, reason=exc.reason)
        return _error(400, exc.reason, dead_lettered=True)
    except IntegrationError as exc:
        metrics.webhooks.labels(source=source, outcome="unavailable").inc()
        return _error(503, str(exc))
    try:
        outcome = await runtime.committer.submit(prepared.delivery)
    except StoreUnavailable:
        metrics.webhooks.labels(source=source, outcome="store_unavailable").inc()
        return _error(503, "the store is unavailable; retry")
    if runtime.workers is not None and not outcome.duplicate:
        runtime.workers.wake()
    metrics.webhooks.labels(source=source, outcome="duplicate" if outcome.duplicate else "accepted").inc()
    return JSONResponse(
        {
            "status": "accepted",
            "duplicate": outcome.duplicate,
            "raw_event_id": outcome.raw_event_id,
            "alerts": prepared.delivery.alert_count,
            "kind": prepared.parsed.kind.value,
        },
        status_code=202,
    )
