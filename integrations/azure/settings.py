"""Settings for the Azure clients (App Service management and Log Analytics).

Credentials never appear here: production code authenticates with
`azure.identity.DefaultAzureCredential`, which reads `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
`AZURE_CLIENT_SECRET` / a managed identity / the Azure CLI login from the environment.

TOML example::

    [azure]
    workspace_id = "00000000-0000-0000-0000-000000000000"
    min_workers = 1
    max_workers = 8
    oom_min_count = 3
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Matches the usual out-of-memory signatures of .NET, Java, Node/Python and the container runtime.
DEFAULT_OOM_PATTERN = (
    r"(?i)(System\.)?OutOfMemoryException|java\.lang\.OutOfMemoryError|OutOfMemoryError"
    r"|OOMKilled|out of memory"
)

# The default diagnosis query. It is a `string.Template`; the client substitutes:
#   $resource_id  the site's ARM id, lower-case ("" when only a name is known)
#   $site_name    the site's name
#   $since/$until the window as ISO 8601 UTC timestamps
#   $limit        the most distinct messages to return
# It must return a table with a string column `Message` and a numeric column `Count`.
#
# AppExceptions (workspace-based Application Insights) is keyed by the app's cloud role name,
# which is the site name on App Service; AppServiceConsoleLogs (the site's diagnostic setting)
# is keyed by the site's resource id. `union isfuzzy=true` lets the query run when a workspace
# has only one of the two tables.
DEFAULT_EXCEPTIONS_KQL = """\
let since = datetime($since);
let until = datetime($until);
union isfuzzy=true
    (AppExceptions
        | where TimeGenerated between (since .. until)
        | where AppRoleName =~ "$site_name"
        | extend Message = strcat(ExceptionType, ": ", coalesce(InnermostMessage, OuterMessage))),
    (AppServiceConsoleLogs
        | where TimeGenerated between (since .. until)
        | where _ResourceId =~ "$resource_id" or _ResourceId endswith "/sites/$site_name"
        | where Level in~ ("Error", "Critical", "Fatal")
            or ResultDescription has_any ("Exception", "OutOfMemory", "OOMKilled", "out of memory")
        | extend Message = ResultDescription)
| where isnotempty(Message)
| summarize Count = count() by Message
| top $limit by Count desc
"""

_TEMPLATE_NAMES = {"resource_id", "site_name", "since", "until", "limit"}


class AzureSettings(BaseModel):
    """`[azure]`: where the Azure APIs are and how the App Service runbooks decide."""

    model_config = ConfigDict(extra="forbid")

    access_token_env: str = Field(
        "",
        description=(
            "Name of an environment variable holding a ready bearer token (a token broker or sidecar "
            "refreshes it). Empty: DefaultAzureCredential (environment, managed identity, Azure CLI)."
        ),
    )
    arm_endpoint: str = Field(
        "https://management.azure.com",
        description="Azure Resource Manager base URL (another cloud, a proxy or a test fake).",
    )
    logs_endpoint: str = Field(
        "https://api.loganalytics.io",
        description="Log Analytics query API base URL; the SDK appends /v1 (a trailing /v1 is accepted).",
    )
    workspace_id: str | None = Field(
        None, description="Log Analytics workspace id (a GUID) holding the apps' logs; None: no diagnosis."
    )
    ca_bundle: Path | None = Field(None, description="PEM bundle to verify TLS with (default: system store).")
    max_retries: int = Field(3, ge=0, le=10, description="azure-core retries for throttling, 5xx and drops.")
    timeout_seconds: float = Field(30.0, gt=0, description="Connect and read timeout of each HTTP call.")

    # App Service plan scaling guards (runbook azure.appservice.scale_plan).
    min_workers: int = Field(1, ge=1, description="Never scale a plan below this many workers.")
    max_workers: int = Field(10, ge=1, description="Never scale a plan above this many workers.")

    # Out-of-memory diagnosis (runbook azure.appservice.restart).
    oom_pattern: str = Field(
        DEFAULT_OOM_PATTERN, description="Python regex marking an out-of-memory message."
    )
    oom_min_count: int = Field(
        3, ge=1, description="Restart only when at least this many out-of-memory errors were logged."
    )
    lookback_minutes: int = Field(10, ge=1, le=1440, description="How far back the diagnosis looks.")
    exceptions_kql: str = Field(
        DEFAULT_EXCEPTIONS_KQL, description="KQL template of the diagnosis (see DEFAULT_EXCEPTIONS_KQL)."
    )
    max_messages: int = Field(100, ge=1, le=10_000, description="Distinct messages the query may return.")
    top_errors: int = Field(5, ge=1, le=50, description="Messages shown as findings when not restarting.")

    @field_validator("arm_endpoint", "logs_endpoint")
    @classmethod
    def _https_url(cls, value: str) -> str:
        # azure-core refuses to send bearer tokens over plain http, so fail at config time.
        if not value.startswith("https://"):
            raise ValueError("must be an https:// URL (bearer tokens are never sent over http)")
        return value.rstrip("/")

    @field_validator("oom_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @field_validator("exceptions_kql")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        template = string.Template(value)
        if not template.is_valid():
            raise ValueError("invalid $placeholder syntax (write $$ for a literal $)")
        unknown = set(template.get_identifiers()) - _TEMPLATE_NAMES
        if unknown:
            known = ", ".join(sorted(_TEMPLATE_NAMES))
            raise ValueError(f"unknown placeholders {sorted(unknown)} (known: {known})")
        return value

    @model_validator(mode="after")
    def _guards_ordered(self) -> AzureSettings:
        if self.min_workers > self.max_workers:
            raise ValueError(f"min_workers ({self.min_workers}) is above max_workers ({self.max_workers})")
        return self

    def transport_options(self) -> dict[str, Any]:
        """Keyword arguments every azure-core client gets: TLS trust, retries and timeouts."""
        options: dict[str, Any] = {
            "retry_total": self.max_retries,
            "connection_timeout": self.timeout_seconds,
            "read_timeout": self.timeout_seconds,
        }
        if self.ca_bundle is not None:
            options["connection_verify"] = str(self.ca_bundle)
        return options
