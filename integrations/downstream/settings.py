"""`[downstream]`: how incident messages reach downstream consumers (queues, topics, webhooks).

Webhook secrets are never values here: each endpoint names the environment variable that holds
its HMAC key. TOML example::

    [downstream]
    incident_link = "https://conductor.example.com/ui/incidents/{id}"

    [downstream.webhooks.orders]
    url = "https://orders.example.com/hooks/conductor"
    secret_env = "ORDERS_WEBHOOK_SECRET"
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ENDPOINT_NAME = re.compile(r"[A-Za-z0-9_.\-]+\Z")


class WebhookEndpoint(BaseModel):
    """One consumer of `webhook.post` runs: a target `webhook:endpoint/NAME` posts here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="Where the signed incident message is POSTed (https in production).")
    secret_env: str = Field(description="Env var holding the HMAC-SHA256 key the body is signed with.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("secret_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value


class DownstreamSettings(BaseModel):
    """`[downstream]`: the incident link in messages and the webhook endpoints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_link: str = Field(
        "",
        description=(
            "Link put in every message; `{id}` becomes the incident id. Empty: the first link of the "
            "incident's alerts (or none)."
        ),
    )
    webhooks: dict[str, WebhookEndpoint] = Field(
        default_factory=dict, description="Endpoint name -> URL and secret variable."
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=300, description="Timeout of each POST.")
    webhook_max_attempts: int = Field(
        3, ge=1, le=10, description="Attempts per message (first included) on 429, 5xx and network errors."
    )
    webhook_retry_wait_seconds: float = Field(
        1.0, ge=0, description="First back-off between attempts (doubles, with jitter, up to 30 s)."
    )
    ca_bundle: Path | None = Field(None, description="PEM bundle to verify the endpoints' TLS with.")

    @field_validator("webhooks")
    @classmethod
    def _names(cls, value: dict[str, WebhookEndpoint]) -> dict[str, WebhookEndpoint]:
        for name in value:
            if not _ENDPOINT_NAME.match(name):
                raise ValueError(f"endpoint name {name!r}: use letters, digits, '.', '_' or '-'")
        return value

    @field_validator("incident_link")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            value.format(id="1")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"bad template (only {{id}} is known): {exc}") from None
        return value
