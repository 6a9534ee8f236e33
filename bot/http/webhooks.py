"""POST /webhooks/{source}: authenticate, validate, store durably, answer 202.

The 202 is sent only after the group committer has committed the body (synchronous=FULL on
SQLite). Checking a small body runs on the event loop (see `WebhookIntake.runs_inline`); a
dead letter is written from a worker thread. The parse is handed to the workers so they need
not parse the body again.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.errors import IntegrationError, MalformedPayload, Unauthenticated, UnknownSource
from bot.ingest.committer import StoreUnavailable
from bot.ingest.intake import Prepared, UnsupportedMediaType
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


async def _check(runtime: Runtime, source: str, body: bytes, headers: dict[str, str]) -> Prepared:
    intake = runtime.intake
    if not intake.runs_inline(source, len(body)):
        return await run_in_threadpool(intake.prepare, source, body, headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    reasons: list[str] = []
    try:
        return intake.check(source, body, lowered, keep=reasons.append)
    except Exception:
        if reasons:  # an authenticated body we cannot parse: keep it for replay
            await run_in_threadpool(intake.dead_letter, source, body, lowered, reasons[0])
        raise


@router.post("/webhooks/{source}", status_code=202)
async def receive_webhook(source: str, request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    if runtime.workers is None:
        return await _receive(runtime, source, request)
    with runtime.workers.foreground():  # background work yields while senders wait
        return await _receive(runtime, source, request)


async def _receive(runtime: Runtime, source: str, request: Request) -> JSONResponse:
    metrics = runtime.metrics
    limit = runtime.settings.ingest.max_body_bytes
    try:
        body = await read_limited(request, limit)
    except BodyTooLarge:
        metrics.webhooks.labels(source=source, outcome="too_large").inc()
        return _error(413, f"body larger than {limit} bytes")
    headers = dict(request.headers)
    try:
        prepared = await _check(runtime, source, body, headers)
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
    if outcome.raw_event_id is not None:
        runtime.processor.remember(outcome.raw_event_id, prepared.parsed)
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
