"""Settings for paging through PagerDuty's Events API v2.

Routing keys are secrets: config names, per PagerDuty service, the environment variable that
holds its key. A target `pagerduty:service/payments` pages with the key in the variable named
by `routing_keys.payments`.

TOML example::

    [pagerduty]
    default_service = "platform"
    [pagerduty.routing_keys]
    platform = "PD_ROUTING_KEY_PLATFORM"
    payments = "PD_ROUTING_KEY_PAYMENTS"
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SERVICE_NAME = re.compile(r"[A-Za-z0-9_.\-]+\Z")


class PagerDutySettings(BaseModel):
    """`[pagerduty]`: where events go and which routing key each named service uses."""

    model_config = ConfigDict(extra="forbid")

    events_base_url: str = Field(
        "https://events.pagerduty.com",
        description="Events API base URL (EU: https://events.eu.pagerduty.com; or a proxy). https only.",
    )
    routing_keys: dict[str, str] = Field(
        default_factory=dict, description="Service name -> name of the env var holding its routing key."
    )
    default_service: str | None = Field(None, description="Service paged when none is named.")
    source: str = Field("cloud-conductor", description="payload.source when the incident names no resource.")
    ca_bundle: Path | None = Field(None, description="PEM bundle to verify TLS with.")
    timeout_seconds: float = Field(30.0, gt=0, description="Timeout of each HTTP call.")
    max_http_attempts: int = Field(
        3, ge=1, le=10, description="Attempts on 429/5xx and network errors before giving up."
    )
    retry_sleep_seconds: float = Field(
        1.5, ge=0, description="First back-off between attempts (doubles each time)."
    )

    @field_validator("events_base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        # The pagerduty client refuses any other scheme; say so at config time.
        if not value.startswith("https://"):
            raise ValueError("must be an https:// URL (the PagerDuty client refuses http)")
        return value.rstrip("/")

    @field_validator("routing_keys")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for service, env_name in value.items():
            if not _SERVICE_NAME.match(service):
                raise ValueError(f"service name {service!r}: use letters, digits, '_', '-', '.'")
            if not _ENV_NAME.match(env_name):
                raise ValueError(
                    f"{service}: {env_name!r} is not an environment variable name "
                    "(routing keys are secrets; put them in the environment)"
                )
        return value

    @model_validator(mode="after")
    def _default_known(self) -> PagerDutySettings:
        if self.default_service is not None and self.default_service not in self.routing_keys:
            raise ValueError(f"default_service {self.default_service!r} is not in routing_keys")
        return self
