"""Console sign-in: a named API token, exchanged once for a signed session cookie.

The cookie (`conductor_session`) is HttpOnly, SameSite=Strict, Secure over HTTPS, signed and
time-stamped with itsdangerous under `[console] secret_env`. It holds the token's name, a digest of
the token's secret (rotating the secret ends its sessions) and the session's CSRF token, which every
form posts back. Each request resolves the token again from the configured ones, so the session
acts exactly as the token would through the API: `api:<name>`, its role, its audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.access.grants import ApiToken, Grants
from bot.access.policy import Refused
from bot.config.settings import ConsoleSettings
from bot.errors import ConductorError
from bot.roles import Principal

COOKIE = "conductor_session"


class SignInRefused(ConductorError):
    """The token presented at sign-in is not a configured API token."""


class CsrfMismatch(ConductorError):
    """A form came back without this session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in console user."""

    principal: Principal
    token_name: str
    csrf: str


def _digest(token: ApiToken) -> str:
    return hashlib.sha256(token.secret).hexdigest()[:32]


class ConsoleSessions:
    def __init__(self, settings: ConsoleSettings, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        key = env.get(settings.secret_env, "").strip() or secrets.token_urlsafe(32)
        self._serializer = URLSafeTimedSerializer(key, salt="conductor-console")
        self.max_age = int(settings.session_hours * 3600)

    def sign_in(self, grants: Grants, presented: str) -> tuple[str, Visitor]:
        """The cookie value and the visitor for a presented token (SignInRefused if none matches)."""
        token = grants.token(presented.strip()) if presented.strip() else None
        if token is None:
            raise SignInRefused("that is not a configured API token")
        visitor = self._visitor(grants, token, secrets.token_urlsafe(24))
        if visitor is None:
            raise SignInRefused("that token may not act on its own")
        cookie = self._serializer.dumps({"t": token.settings.name, "d": _digest(token), "c": visitor.csrf})
        return cookie, visitor

    def visitor(self, grants: Grants, cookie: str | None) -> Visitor | None:
        """Who the cookie signs in, or None (no cookie, bad signature, expired, token gone or rotated)."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        for token in grants.tokens:
            if token.settings.name == data.get("t") and hmac.compare_digest(
                _digest(token), str(data.get("d"))
            ):
                return self._visitor(grants, token, str(data.get("c", "")))
        return None

    @staticmethod
    def _visitor(grants: Grants, token: ApiToken, csrf: str) -> Visitor | None:
        principal = grants.api_caller(token, "")
        if isinstance(principal, Refused):
            return None
        return Visitor(principal=principal, token_name=token.settings.name, csrf=csrf)


def check_csrf(visitor: Visitor, posted: str) -> None:
    if not posted or not hmac.compare_digest(visitor.csrf, posted):
        raise CsrfMismatch("the form is stale or came from another site: reload the page and try again")
