"""Per-source authentication, configured in `[ingest.auth.<source>]`.

Secrets are read from the environment variables the config names. A source with no entry is
open only while `ingest.allow_unauthenticated` is true (the embedded default for local use).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.config.settings import IngestSettings, SourceAuth
from bot.errors import Unauthenticated
from integrations.aws.sns_signature import SnsSignatureVerifier
from integrations.aws.sns_subscription import CachedCertFetcher, check_subscribe_url
from integrations.base import DeliveryKind, Envelope
from integrations.common.http_auth import check_basic, check_bearer
from integrations.grafana.signature import verify_grafana_signature
from integrations.pagerduty.pagerduty import verify_pagerduty_signature

Check = Callable[[bytes, Mapping[str, str], Envelope | None], None]


def _secret_values(env_name: str, environ: Mapping[str, str]) -> list[str]:
    raw = environ.get(env_name, "") if env_name else ""
    return [part.strip() for part in raw.split(",") if part.strip()]


def _hmac_check(kind: str, auth: SourceAuth, environ: Mapping[str, str]) -> Check:
    def check(body: bytes, headers: Mapping[str, str], envelope: Envelope | None) -> None:
        if envelope is not None:
            return
        secrets = _secret_values(auth.secret_env, environ)
        if not secrets:
            raise Unauthenticated(f"{kind} signing secret is not set (env {auth.secret_env or '?'})")
        if kind == "pagerduty":
            verify_pagerduty_signature(body, headers.get("x-pagerduty-signature", ""), secrets)
        else:
            verify_grafana_signature(
                body,
                headers,
                secrets,
                signature_header=auth.signature_header,
                timestamp_header=auth.timestamp_header or None,
            )

    return check


def _build_check(auth: SourceAuth, environ: Mapping[str, str], cert_dir: Path) -> Check:
    if auth.mode == "none":
        return lambda body, headers, envelope: None
    if auth.mode in ("bearer", "basic"):

        def check_shared(body: bytes, headers: Mapping[str, str], envelope: Envelope | None) -> None:
            if envelope is not None:
                return
            if auth.mode == "bearer":
                check_bearer(headers, _secret_values(auth.secret_env, environ))
                return
            users = dict(v.split(":", 1) for v in _secret_values(auth.secret_env, environ) if ":" in v)
            check_basic(headers, users)

        return check_shared
    if auth.mode == "sns":
        verifier = SnsSignatureVerifier(
            topic_allowlist=auth.allowed_topic_arns, fetch_cert=CachedCertFetcher(cert_dir)
        )

        def check_sns(body: bytes, headers: Mapping[str, str], envelope: Envelope | None) -> None:
            if envelope is None:  # before the screen: a body nobody signed is not read further
                verifier.verify_body(body)
            elif envelope.kind is DeliveryKind.SUBSCRIPTION_CONFIRMATION and envelope.subscribe_url:
                check_subscribe_url(envelope.subscribe_url)

        return check_sns
    return _hmac_check(auth.mode, auth, environ)


class WebhookAuthenticator:
    """Callable `(source, body, headers, envelope)`: called before screening (envelope=None:
    every signature and credential is checked here, so a 401 stores nothing, not even a dead
    letter) and after (envelope given: what only the screened message can tell, such as an SNS
    SubscribeURL)."""

    def __init__(self, checks: Mapping[str, Check], *, allow_unauthenticated: bool) -> None:
        self._checks = dict(checks)
        self._open = allow_unauthenticated

    @classmethod
    def from_settings(
        cls, settings: IngestSettings, *, data_dir: Path, environ: Mapping[str, str] | None = None
    ) -> WebhookAuthenticator:
        env = os.environ if environ is None else environ
        cert_dir = data_dir / "sns-certs"
        checks = {source: _build_check(auth, env, cert_dir) for source, auth in settings.auth.items()}
        return cls(checks, allow_unauthenticated=settings.allow_unauthenticated)

    def __call__(
        self, source: str, body: bytes, headers: Mapping[str, str], envelope: Envelope | None
    ) -> None:
        check = self._checks.get(source)
        if check is None:
            if not self._open:
                raise Unauthenticated(f"no authentication is configured for source {source!r}")
            return
        check(body, headers, envelope)
