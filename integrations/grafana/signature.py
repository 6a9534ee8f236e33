"""Grafana alerting webhook HMAC signature (Grafana 12+ contact point "HMAC Signature").

What Grafana does (grafana/alerting ``http/hmac.go``): hex(HMAC-SHA256(secret, body)) in the
configured header; when a *timestamp header* is configured, it puts the Unix time in seconds in
that header and signs ``"<timestamp>:" + body`` instead. The header name is configurable; the UI
suggests ``X-Grafana-Alerting-Signature`` while the library default (header left empty) is
``X-Grafana-Alert-Signature``, so with the default name both are looked at.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from bot.clock import Clock, utc_now
from bot.errors import Unauthenticated
from integrations.common.payload import header

DEFAULT_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
_LIBRARY_DEFAULT_HEADER = "X-Grafana-Alert-Signature"
DEFAULT_MAX_AGE = timedelta(minutes=5)


def _signature(headers: Mapping[str, str], name: str) -> str:
    value = header(headers, name)
    if value is None and name.lower() == DEFAULT_SIGNATURE_HEADER.lower():
        value = header(headers, _LIBRARY_DEFAULT_HEADER)
    if not value or not value.strip():
        raise Unauthenticated(f"missing {name} header")
    return value.strip().lower()


def _signed_bytes(
    body: bytes,
    headers: Mapping[str, str],
    timestamp_header: str | None,
    clock: Clock,
    max_age: timedelta,
) -> bytes:
    if not timestamp_header:
        return body
    raw = header(headers, timestamp_header)
    if raw is None or not raw.strip():
        raise Unauthenticated(f"missing {timestamp_header} header")
    try:
        sent_at = datetime.fromtimestamp(int(raw.strip()), UTC)
    except (ValueError, OverflowError, OSError):
        raise Unauthenticated(f"{timestamp_header} is not a Unix timestamp") from None
    if abs(clock() - sent_at) > max_age:
        raise Unauthenticated(f"{timestamp_header} is too old or in the future (replay?)")
    return raw.strip().encode() + b":" + body


def verify_grafana_signature(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    signature_header: str = DEFAULT_SIGNATURE_HEADER,
    timestamp_header: str | None = None,
    clock: Clock = utc_now,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> None:
    """Raise Unauthenticated unless the body is signed by one of `secrets`.

    With `timestamp_header` set (it must match the contact point's "Timestamp header"), the
    timestamp is required, signed, and refused when more than `max_age` away from `clock()`.
    """
    keys = [secret for secret in secrets if secret]
    if not keys:
        raise Unauthenticated("no Grafana webhook secret is configured")
    given = _signature(headers, signature_header)
    signed = _signed_bytes(body, headers, timestamp_header, clock, max_age)
    matched = False
    for key in keys:
        expected = hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected.encode(), given.encode())
    if not matched:
        raise Unauthenticated("Grafana signature does not match")
