"""`webhook.post`'s client: POST an incident message, HMAC-signed, with a timeout and bounded retries.

The signature (documented for receivers in docs/runbooks.md, "Downstream notification"):

- `X-Conductor-Timestamp`: Unix seconds when the attempt was signed;
- `X-Conductor-Signature`: `v1=` + hex HMAC-SHA256, keyed with the endpoint's secret, of
  `"{timestamp}." + body` (the raw body bytes). Receivers recompute it, compare in constant time
  and refuse timestamps older than a few minutes (`verify_signature` does all three);
- `X-Conductor-Message-Id`: the message id, the same for every attempt, for dropping repeats.

This client is the one retry layer of a webhook call (docs/retries.md): 429, 5xx and network errors
are tried again up to `[downstream] webhook_max_attempts` times in all; other answers are final.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from bot.errors import IntegrationError
from integrations.downstream.message import IncidentMessage
from integrations.downstream.settings import DownstreamSettings, WebhookEndpoint

SYSTEM = "webhook"
SIGNATURE_HEADER = "X-Conductor-Signature"
TIMESTAMP_HEADER = "X-Conductor-Timestamp"
MESSAGE_ID_HEADER = "X-Conductor-Message-Id"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The `X-Conductor-Signature` value of `body` sent at `timestamp`."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_signature(
    secret: bytes,
    *,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver checks: a fresh timestamp and a signature that matches, in constant time."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


class WebhookNotConfigured(IntegrationError):
    """A `webhook:endpoint/NAME` target whose endpoint or secret is missing."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, system=SYSTEM)


@dataclass(frozen=True, slots=True)
class Delivery:
    endpoint: str
    status: int
    attempts: int


Sleep = Callable[[float], None]


class WebhookSender:
    """Posts incident messages to the endpoints of `[downstream.webhooks]`."""

    def __init__(
        self,
        settings: DownstreamSettings,
        *,
        env: Mapping[str, str] | None = None,
        sleep: Sleep = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._env = env if env is not None else os.environ
        self._sleep = sleep
        self._wall_clock = wall_clock
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(settings.ca_bundle)) if settings.ca_bundle else True
        )
        self._http = httpx.Client(timeout=settings.webhook_timeout_seconds, verify=verify)

    def endpoint(self, name: str) -> WebhookEndpoint:
        """The endpoint named `name`, with its secret present (never returned or shown)."""
        endpoint = self.settings.webhooks.get(name)
        if endpoint is None:
            known = ", ".join(sorted(self.settings.webhooks)) or "none configured"
            raise WebhookNotConfigured(f"no webhook endpoint {name!r} under [downstream.webhooks] ({known})")
        if not self._env.get(endpoint.secret_env):
            raise WebhookNotConfigured(
                f"webhook endpoint {name!r}: the variable {endpoint.secret_env} holding its secret is not set"
            )
        return endpoint

    def post(self, name: str, message: IncidentMessage) -> Delivery:
        """POST the signed message; raises `IntegrationError` once the attempts are used up."""
        endpoint = self.endpoint(name)
        secret = self._env[endpoint.secret_env].encode()
        body = message.body()
        attempts = 0

        def attempt() -> int:
            nonlocal attempts
            attempts += 1
            return self._post_once(name, endpoint.url, secret, body, message.message_id)

        retrying = Retrying(
            stop=stop_after_attempt(self.settings.webhook_max_attempts),
            wait=wait_random_exponential(multiplier=self.settings.webhook_retry_wait_seconds, max=30),
            retry=retry_if_exception(lambda e: isinstance(e, IntegrationError) and e.retryable),
            sleep=self._sleep,
            reraise=True,
        )
        status = retrying(attempt)
        return Delivery(endpoint=name, status=status, attempts=attempts)

    def _post_once(self, name: str, url: str, secret: bytes, body: bytes, message_id: str) -> int:
        timestamp = int(self._wall_clock())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            MESSAGE_ID_HEADER: message_id,
            "User-Agent": "cloud-conductor",
        }
        try:
            reply = self._http.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise IntegrationError(
                f"webhook {name}: no answer within {self.settings.webhook_timeout_seconds:g} s",
                retryable=True,
                system=SYSTEM,
            ) from exc
        except httpx.HTTPError as exc:
            raise IntegrationError(
                f"webhook {name}: cannot reach the endpoint: {type(exc).__name__}",
                retryable=True,
                system=SYSTEM,
            ) from exc
        if reply.status_code < 300:
            return reply.status_code
        retryable = reply.status_code in (408, 429) or reply.status_code >= 500
        raise IntegrationError(
            f"webhook {name}: HTTP {reply.status_code}", retryable=retryable, system=SYSTEM
        )

    def close(self) -> None:
        self._http.close()
