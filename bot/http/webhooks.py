"""POST /webhooks/{source}: read, hand to the intake, answer.

The intake (`runtime.intake`: the intake process by default, see `bot.ingest.intake_process`)
authenticates, screens and commits the body; 202 is sent only after the commit (synchronous=FULL
on SQLite). Alerts are normalized later, by the workers, from the committed body.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.errors import IntegrationError, MalformedPayload, Unauthenticated, UnknownSource
from bot.ingest.committer import StoreUnavailable
from bot.ingest.intake import UnsupportedMediaType
from bot.ingest.wire import IntakeUnavailable
from bot.logs import get_logger
from bot.request_body import BodyTooLarge, read_limited
from bot.runtime import Runtime

log = get_logger(__name__)
router = APIRouter()


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


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
    try:
        accepted = await runtime.intake.submit(source, body, request.headers)
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
    except StoreUnavailable as exc:
        metrics.webhooks.labels(source=source, outcome="store_unavailable").inc()
        log.error("webhook not stored", source=source, reason=str(exc))
        return _error(503, "the store is unavailable; retry")
    except IntakeUnavailable as exc:
        metrics.webhooks.labels(source=source, outcome="intake_unavailable").inc()
        log.error("webhook not stored", source=source, reason=str(exc))
        return _error(503, str(exc))
    outcome = accepted.outcome
    if runtime.workers is not None and not outcome.duplicate:
        runtime.workers.wake()
    metrics.webhooks.labels(source=source, outcome="duplicate" if outcome.duplicate else "accepted").inc()
    return JSONResponse(
        {
            "status": "accepted",
            "duplicate": outcome.duplicate,
            "raw_event_id": outcome.raw_event_id,
            "alerts": accepted.alert_count,
            "kind": accepted.kind,
        },
        status_code=202,
    )
