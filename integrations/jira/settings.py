"""Settings for the Jira client: where Jira is, how to log in (by env-var name), what to file.

TOML example::

    [jira]
    url = "https://example.atlassian.net"
    deployment = "cloud"            # "cloud": user e-mail + API token; "server": PAT or user + password
    user_env = "JIRA_USER"          # names of environment variables, never the secrets themselves
    token_env = "JIRA_API_TOKEN"
    project = "OPS"
    issue_type = "Task"
    resolve_transition = "Done"
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PROJECT_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,49}\Z")

DEFAULT_PRIORITY_MAP = {
    "critical": "Highest",
    "error": "High",
    "warning": "Medium",
    "info": "Low",
    "unknown": "Medium",
}


class JiraSettings(BaseModel):
    """`[jira]`: one ticket per incident, found again by its incident label."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Jira base URL, e.g. https://example.atlassian.net")
    deployment: Literal["cloud", "server"] = Field(
        "cloud",
        description=(
            "cloud: basic auth with the user's e-mail and an API token; server (Data Center): a "
            "personal access token as bearer, or user + password when user_env is set."
        ),
    )
    user_env: str | None = Field("JIRA_USER", description="Env var holding the user (e-mail on Cloud).")
    token_env: str = Field("JIRA_API_TOKEN", description="Env var holding the API token / PAT / password.")
    project: str = Field(description="Project key new tickets go to (a jira:project target overrides it).")
    issue_type: str = Field("Task", description="Issue type name of new tickets.")
    priority_map: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_PRIORITY_MAP),
        description="Incident severity -> Jira priority name; severities not listed get no priority.",
    )
    labels: list[str] = Field(
        default_factory=lambda: ["cloud-conductor"], description="Labels on every ticket."
    )
    incident_label_prefix: str = Field(
        "conductor-incident-", description="Label prefix that ties a ticket to an incident id."
    )
    resolve_transition: str = Field(
        "Done", description="Name of the workflow transition that resolves a ticket (case-insensitive)."
    )
    ca_bundle: Path | None = Field(None, description="PEM bundle to verify TLS with.")
    timeout_seconds: float = Field(30.0, gt=0, description="Connect/read timeout of each HTTP call.")
    max_retries: int = Field(
        3, ge=0, le=10, description="The jira client's retries on 429, 503 with Retry-After and drops."
    )
    max_retry_delay_seconds: int = Field(
        60, ge=0, le=600, description="Longest wait between two of those retries (Retry-After included)."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/")

    @field_validator("user_env", "token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                f"{value!r} is not an environment variable name (put secrets in the environment)"
            )
        return value

    @field_validator("project")
    @classmethod
    def _project_key(cls, value: str) -> str:
        if not _PROJECT_KEY.match(value):
            raise ValueError(f"{value!r} is not a Jira project key (upper-case letters, digits, _)")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        for label in value:
            if not label or any(ch.isspace() for ch in label):
                raise ValueError(f"label {label!r}: Jira labels cannot be empty or contain spaces")
        return value

    @field_validator("incident_label_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if any(ch.isspace() or ch == '"' for ch in value):
            raise ValueError("cannot contain spaces or quotes")
        return value

    @model_validator(mode="after")
    def _cloud_needs_user(self) -> JiraSettings:
        if self.deployment == "cloud" and self.user_env is None:
            raise ValueError("deployment 'cloud' needs user_env (Jira Cloud logs in with e-mail + API token)")
        return self
