"""Shared-secret checks for webhook sources that have no signature of their own.

Alertmanager, Azure action groups, Cloud Monitoring, Datadog and the generic source can only send
a bearer token or HTTP basic credentials. Both checks compare in constant time and raise
`Unauthenticated` with a reason that never echoes the secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Collection, Mapping

from bot.errors import Unauthenticated
from integrations.common.payload import header

# Compared against when the user is unknown, so that an unknown user costs the same time.
_DUMMY_PASSWORD = "x" * 32


def _authorization(headers: Mapping[str, str], scheme: str) -> str:
    value = header(headers, "Authorization")
    if not value:
        raise Unauthenticated("missing Authorization header")
    given_scheme, _, credentials = value.strip().partition(" ")
    if given_scheme.lower() != scheme.lower() or not credentials.strip():
        raise Unauthenticated(f"Authorization header is not a {scheme} credential")
    return credentials.strip()


def check_bearer(headers: Mapping[str, str], expected_tokens: Collection[str]) -> None:
    """Accept `Authorization: Bearer <token>` when the token is one of `expected_tokens`.

    Several tokens may be configured so that a token can be rotated without downtime. Every
    configured token is compared (no early exit), each in constant time.
    """
    tokens = [token for token in expected_tokens if token]
    if not tokens:
        raise Unauthenticated("no bearer token is configured for this source")
    given = _authorization(headers, "Bearer").encode()
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given, token.encode())
    if not matched:
        raise Unauthenticated("bearer token not accepted")


def check_basic(headers: Mapping[str, str], users: Mapping[str, str]) -> None:
    """Accept HTTP basic credentials whose user is in `users` with the matching password."""
    if not users:
        raise Unauthenticated("no basic-auth user is configured for this source")
    credentials = _authorization(headers, "Basic")
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("Authorization header: malformed basic credentials") from None
    user, separator, password = decoded.partition(":")
    if not separator:
        raise Unauthenticated("Authorization header: malformed basic credentials")
    expected = users.get(user)
    password_ok = hmac.compare_digest(password.encode(), (expected or _DUMMY_PASSWORD).encode())
    if expected is None or not password_ok:
        raise Unauthenticated("basic credentials not accepted")
