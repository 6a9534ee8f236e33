"""What a webhook route calls: authenticate, validate, key, and hand over for a durable write.

Order matters: authentication first (401 stores nothing), then the source's screen (every check
its parser makes, so an authenticated but malformed body is kept as a dead letter and answered
400; see `integrations.base.Screen`), then the idempotency key. Normalizing the alerts is left to
the workers, which parse the committed body.

`check` is the pure part (no I/O unless the source's authentication needs it); `prepare` adds the
dead-letter write. The route runs `check` on the event loop when that is cheap and safe
(`runs_inline`) and everything else in a worker thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.config.root import Settings
from bot.errors import MalformedPayload, Unauthenticated, UnknownSource
from bot.ingest.auth import WebhookAuthenticator
from bot.ingest.committer import RawDelivery
from bot.ingest.parsing import ScreenFn, make_screen
from bot.ingest.sources import SOURCES
from bot.logs import get_logger, request_id_var
from bot.store.db import Store
from bot.store.models import DeadLetter
from integrations.base import Envelope

log = get_logger(__name__)

ACCEPTED_CONTENT_TYPES = (
    "application/json",
    "text/plain",
    "application/x-amz-json-1.0",
    "application/cloudevents+json",
)
# Headers worth keeping with the raw body (replay, audit); credentials are never kept.
KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-amz-sns-message-type",
    "x-amz-sns-message-id",
    "x-amz-sns-topic-arn",
    "x-webhook-id",
    "x-pagerduty-signature",
    "x-grafana-alerting-signature",
    "x-request-id",
)
# Bodies up to this size are checked on the event loop: screening one costs well under a
# millisecond, less than handing it to a thread and back while other threads want the interpreter.
INLINE_MAX_BYTES = 64 * 1024
# Authentication modes that may do I/O (SNS fetches its signing certificate) always use a thread.
_BLOCKING_AUTH_MODES = frozenset({"sns"})

Authenticate = Callable[[str, bytes, Mapping[str, str], "Envelope | None"], None]


class UnsupportedMediaType(MalformedPayload):
    """The body is not of a content type this route accepts."""


@dataclass(frozen=True)
class Prepared:
    delivery: RawDelivery
    envelope: Envelope


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    return {k: lowered[k] for k in KEPT_HEADERS if k in lowered}


def check_content_type(content_type: str) -> None:
    base = content_type.split(";", 1)[0].strip().lower()
    if base and base not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaType(f"content type {base!r} is not accepted; send application/json")


class WebhookIntake:
    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        screen: ScreenFn,
        authenticate: Authenticate,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._store = store
        self._screen = screen
        self._authenticate = authenticate
        self._clock = clock

    def runs_inline(self, source: str, size: int) -> bool:
        """Whether `check` for this request is CPU work only and small enough for the event loop."""
        if size > INLINE_MAX_BYTES:
            return False
        auth = self._settings.ingest.auth.get(source)
        return auth is None or auth.mode not in _BLOCKING_AUTH_MODES

    def prepare(self, source: str, body: bytes, headers: Mapping[str, str]) -> Prepared:
        """Raise UnknownSource, Unauthenticated or MalformedPayload; else what to store.

        A body that cannot be parsed is kept as a dead letter before MalformedPayload is raised."""
        lowered = {k.lower(): v for k, v in headers.items()}
        return self.check(
            source, body, lowered, keep=lambda reason: self.dead_letter(source, body, lowered, reason)
        )

    def check(
        self,
        source: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        keep: Callable[[str], object] | None = None,
    ) -> Prepared:
        """`prepare` with the dead-letter write left to `keep` (called with the reason before
        MalformedPayload is raised for a body that cannot be parsed)."""
        if source not in SOURCES:
            raise UnknownSource(f"no webhook source {source!r} (known: {', '.join(SOURCES)})")
        lowered = {k.lower(): v for k, v in headers.items()}
        content_type = lowered.get("content-type", "")
        # Signature schemes that cover the raw body are checked before we read anything.
        self._authenticate(source, body, lowered, None)
        try:
            check_content_type(content_type)
            envelope = self._screen_or_refuse(source, body, lowered)
        except MalformedPayload as exc:
            if keep is not None:
                keep(exc.reason)
            raise
        # Schemes whose proof lives inside the payload (SNS) are checked on the screened message.
        self._authenticate(source, body, lowered, envelope)
        key = envelope.idempotency_key or hashlib.sha256(body).hexdigest()
        delivery = RawDelivery(
            source=source,
            idempotency_key=key[:255],
            body=body,
            headers=kept_headers(lowered),
            content_type=content_type,
            received_at=self._clock(),
            request_id=request_id_var.get(),
            alert_count=envelope.alert_count,
        )
        return Prepared(delivery=delivery, envelope=envelope)

    def _screen_or_refuse(self, source: str, body: bytes, headers: dict[str, str]) -> Envelope:
        """The screen's envelope. A screen that fails in a way it did not foresee refuses the body
        (400, kept as a dead letter for replay once fixed) rather than answering 503, which makes
        the sender retry the same body forever."""
        try:
            return self._screen(source, body, headers)
        except MalformedPayload:
            raise
        except Exception as exc:  # a bug in a screen; logged with its traceback
            log.error("webhook screen failed", source=source, exc_info=True)
            raise MalformedPayload(f"the body could not be read ({type(exc).__name__})") from exc

    def dead_letter(self, source: str, body: bytes, headers: Mapping[str, str], reason: str) -> int:
        with self._store.transaction() as session:
            letter = DeadLetter(
                source=source,
                received_at=self._clock(),
                content_type=headers.get("content-type", ""),
                headers=kept_headers(headers),
                body=body,
                reason=reason,
                request_id=request_id_var.get(),
            )
            session.add(letter)
            session.flush()
            return letter.id


def build_intake(settings: Settings, store: Store, clock: Callable[[], datetime]) -> WebhookIntake:
    return WebhookIntake(
        settings=settings,
        store=store,
        screen=make_screen(settings),
        authenticate=WebhookAuthenticator.from_settings(settings.ingest, data_dir=settings.data_dir),
        clock=clock,
    )


__all__ = [
    "SOURCES",
    "Prepared",
    "Unauthenticated",
    "UnsupportedMediaType",
    "WebhookIntake",
    "build_intake",
]
