"""A typed App Service client over azure-mgmt-web: read/restart sites, read/scale plans.

Every SDK failure comes out as `IntegrationError(retryable=...)`: throttling (429), timeouts
(408), server errors (5xx) and dropped connections are retryable; other 4xx, authentication
and credential errors are not.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from bot.errors import IntegrationError
from integrations.azure.settings import AzureSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.web import WebSiteManagementClient

SYSTEM = "azure"
RETRYABLE_STATUS = frozenset({408, 429})
NO_AZURE_CREDENTIALS = (
    "no Azure credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, run `az login`, "
    "run with a managed identity, or name a token variable in [azure] access_token_env"
)


def to_integration_error(exc: AzureError, operation: str) -> IntegrationError:
    """Map an azure-core error to `IntegrationError`, deciding whether a retry may help."""
    status: int | None = None
    if isinstance(exc, ClientAuthenticationError):
        # Includes credential errors without an HTTP status: retrying cannot fix a bad login.
        retryable = False
        status = exc.status_code
    elif isinstance(exc, HttpResponseError):
        status = exc.status_code
        retryable = status is not None and (status in RETRYABLE_STATUS or status >= 500)
    else:
        # ServiceRequestError (could not send) / ServiceResponseError (connection dropped).
        retryable = isinstance(exc, ServiceRequestError | ServiceResponseError)
    if isinstance(exc, ClientAuthenticationError) and status is None:
        # No token at all (a laptop with no Azure login): say what would provide one, in one line.
        return IntegrationError(f"{operation}: {NO_AZURE_CREDENTIALS}", retryable=False, system=SYSTEM)
    where = f"HTTP {status}" if status is not None else type(exc).__name__
    message = getattr(exc, "message", None) or str(exc)
    first_line = str(message).strip().splitlines()[0] if str(message).strip() else ""
    return IntegrationError(f"{operation}: {where}: {first_line}", retryable=retryable, system=SYSTEM)


def default_credential(settings: AzureSettings | None = None) -> TokenCredential:
    """The production credential: a token from `access_token_env` if configured, else
    DefaultAzureCredential (environment, managed identity, then the Azure CLI login)."""
    if settings is not None and settings.access_token_env:
        return EnvTokenCredential(settings.access_token_env)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class EnvTokenCredential:
    """A bearer token read from an environment variable at each call (so rotation needs no restart)."""

    def __init__(self, env_name: str) -> None:
        self._env = env_name

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        import os
        import time

        token = os.environ.get(self._env, "")
        if not token:
            raise IntegrationError(
                f"Azure token variable {self._env} is empty", retryable=False, system="azure"
            )
        return AccessToken(token, int(time.time()) + 300)


def _utc(value: datetime | None) -> datetime | None:
    # ARM writes lastModifiedTimeUtc without an offset; it is UTC.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SiteState:
    """What the runbooks need to know about a web app."""

    resource_id: str
    name: str
    state: str  # "Running", "Stopped", ...
    last_modified: datetime | None  # UTC
    server_farm_id: str | None = None

    @property
    def is_running(self) -> bool:
        return self.state.lower() == "running"


@dataclass(frozen=True, slots=True)
class PlanState:
    """An App Service plan's SKU and worker count."""

    resource_id: str
    name: str
    sku: str | None
    tier: str | None
    workers: int | None  # sku.capacity
    max_workers: int | None  # the SKU's limit (maximumNumberOfWorkers)
    status: str | None  # "Ready", "Pending", "Creating"
    provisioning_state: str | None = None


@dataclass(frozen=True, slots=True)
class PlanScaled:
    before: int | None  # sku.capacity read just before the change
    after: PlanState


def site_id(subscription: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Web/sites/{name}"
    )


class AppServiceClient:
    """Azure App Service operations used by the runbooks.

    One `WebSiteManagementClient` per subscription is built lazily and reused. `credential`
    defaults to `DefaultAzureCredential`; tests pass any object with `get_token`.
    """

    def __init__(self, settings: AzureSettings, *, credential: TokenCredential | None = None) -> None:
        self.settings = settings
        self._credential = credential
        self._clients: dict[str, WebSiteManagementClient] = {}
        self._lock = threading.Lock()

    def _client(self, subscription: str) -> WebSiteManagementClient:
        with self._lock:
            client = self._clients.get(subscription)
            if client is None:
                from azure.mgmt.web import WebSiteManagementClient

                if self._credential is None:
                    self._credential = default_credential(self.settings)
                endpoint = self.settings.arm_endpoint
                client = WebSiteManagementClient(
                    self._credential,
                    subscription,
                    base_url=endpoint,
                    # The token scope follows the endpoint (sovereign clouds), not the SDK's default cloud.
                    credential_scopes=[f"{endpoint}/.default"],
                    **self.settings.transport_options(),
                )
                self._clients[subscription] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    # --- sites -------------------------------------------------------------------------

    def get_site(self, subscription: str, resource_group: str, name: str) -> SiteState:
        """`web_apps.get`: the site's state and last-modified time."""
        try:
            site = self._client(subscription).web_apps.get(resource_group, name)
        except AzureError as exc:
            raise to_integration_error(exc, f"get site {name}") from exc
        return SiteState(
            resource_id=site.id or site_id(subscription, resource_group, name),
            name=site.name or name,
            state=_text(site.state) or "Unknown",
            last_modified=_utc(site.last_modified_time_utc),
            server_farm_id=site.server_farm_id,
        )

    def restart(self, subscription: str, resource_group: str, name: str, *, soft: bool = False) -> None:
        """`web_apps.restart`: restart every instance of the site (`soft`: recycle without reload)."""
        try:
            self._client(subscription).web_apps.restart(
                resource_group, name, soft_restart=soft or None, synchronous=None
            )
        except AzureError as exc:
            raise to_integration_error(exc, f"restart site {name}") from exc

    # --- plans -------------------------------------------------------------------------

    def get_plan(self, subscription: str, resource_group: str, name: str) -> PlanState:
        """`app_service_plans.get`: SKU, worker count and status."""
        return _plan_state(self._get_plan_model(subscription, resource_group, name), name)

    def _get_plan_model(self, subscription: str, resource_group: str, name: str) -> Any:
        try:
            return self._client(subscription).app_service_plans.get(resource_group, name)
        except AzureError as exc:
            raise to_integration_error(exc, f"get plan {name}") from exc

    def set_plan_workers(self, subscription: str, resource_group: str, name: str, workers: int) -> PlanScaled:
        """Set the plan's worker count (`sku.capacity`); returns the count read just before and the
        plan as ARM reports it after (the rollback restores `before`).

        Uses `app_service_plans.begin_create_or_update` (PUT) with the plan just read and only
        `sku.capacity` changed, as `az appservice plan update --number-of-workers` does. The PATCH
        operation's body model (`AppServicePlanPatchResource`) has no `sku`, so ARM's documented
        contract for changing capacity is the PUT. Guards are the caller's job.
        """
        if workers < 1:
            raise ValueError("workers must be at least 1")
        plan = self._get_plan_model(subscription, resource_group, name)
        if plan.sku is None:
            raise IntegrationError(f"plan {name} has no sku to scale", retryable=False, system=SYSTEM)
        before = plan.sku.capacity
        plan.sku.capacity = workers
        try:
            poller = self._client(subscription).app_service_plans.begin_create_or_update(
                resource_group, name, plan
            )
            updated = poller.result(timeout=self.settings.timeout_seconds * 4)
        except AzureError as exc:
            raise to_integration_error(exc, f"scale plan {name} to {workers}") from exc
        return PlanScaled(before=before, after=_plan_state(updated, name))


def _text(value: Any) -> str | None:
    # The SDK's enums are str subclasses whose str() is "Enum.MEMBER"; keep the wire value.
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _plan_state(plan: Any, name: str) -> PlanState:
    sku = plan.sku
    return PlanState(
        resource_id=plan.id or "",
        name=plan.name or name,
        sku=sku.name if sku is not None else None,
        tier=sku.tier if sku is not None else None,
        workers=sku.capacity if sku is not None else None,
        max_workers=plan.maximum_number_of_workers,
        status=_text(plan.status),
        provisioning_state=_text(plan.provisioning_state),
    )
