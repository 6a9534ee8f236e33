"""A recording fake of Azure Resource Manager's Microsoft.Web provider, served over HTTPS.

Answers what `azure-mgmt-web` sends for sites (get, restart) and plans (serverfarms get, PATCH,
PUT) with the minimal real JSON shapes. Tests set state directly::

    with FakeAzureArm(tls=test_tls.server_context) as arm:
        arm.sites["web1"] = FakeSite(subscription=SUB, resource_group="rg", name="web1")
        arm.plans["plan1"] = FakePlan(subscription=SUB, resource_group="rg", name="plan1", capacity=2)
        settings = AzureSettings(arm_endpoint=arm.url, ca_bundle=test_tls.ca_path)
        client = AppServiceClient(settings, credential=FakeCredential())
        ...
        assert arm.restarts["web1"] == 1

`fail_next(status, ...)` makes the next matching request(s) fail, to test error mapping.
Requests without a bearer token get 401, as ARM would answer.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.credentials import AccessToken

from tests.fakes.http_server import FakeService, RecordedRequest, Reply

_PROVIDER = r"(?i)/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Web"


class FakeCredential:
    """A static-token credential: anything with `get_token` is an Azure credential."""

    def __init__(self, token: str = "fake-arm-token") -> None:  # noqa: S107 - a test token
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


@dataclass
class FakeSite:
    subscription: str
    resource_group: str
    name: str
    state: str = "Running"
    last_modified: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    plan: str = "plan1"
    location: str = "westeurope"

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Web/sites/{self.name}"
        )

    def to_json(self) -> dict[str, Any]:
        farm = self.id.rsplit("/sites/", 1)[0] + f"/serverfarms/{self.plan}"
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Web/sites",
            "kind": "app",
            "location": self.location,
            "properties": {
                "state": self.state,
                "enabled": True,
                "hostNames": [f"{self.name}.azurewebsites.net"],
                "serverFarmId": farm,
                # ARM writes this without an offset, with 7 fractional digits.
                "lastModifiedTimeUtc": self.last_modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0"),
            },
        }


@dataclass
class FakePlan:
    subscription: str
    resource_group: str
    name: str
    capacity: int = 1
    sku: str = "S1"
    tier: str = "Standard"
    max_workers: int = 10
    status: str = "Ready"
    location: str = "westeurope"
    extra_properties: dict[str, Any] = field(
        default_factory=lambda: {"reserved": False, "perSiteScaling": False}
    )

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Web/serverfarms/{self.name}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Web/serverfarms",
            "kind": "app",
            "location": self.location,
            "sku": {
                "name": self.sku,
                "tier": self.tier,
                "size": self.sku,
                "family": self.sku[:1],
                "capacity": self.capacity,
            },
            "properties": {
                "status": self.status,
                "maximumNumberOfWorkers": self.max_workers,
                "numberOfWorkers": self.capacity,
                "numberOfSites": 1,
                "provisioningState": "Succeeded",
                **self.extra_properties,
            },
        }


@dataclass
class _Failure:
    status: int
    method: str | None
    path_contains: str
    body: Any
    headers: dict[str, str]
    times: int


def arm_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


class FakeAzureArm(FakeService):
    """Microsoft.Web sites and serverfarms, in memory; every request is recorded."""

    def __init__(self, *, tls: ssl.SSLContext, clock: Any = None) -> None:
        super().__init__(tls=tls)
        self.sites: dict[str, FakeSite] = {}
        self.plans: dict[str, FakePlan] = {}
        self.restarts: Counter[str] = Counter()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._failures: list[_Failure] = []
        self._state_lock = threading.Lock()
        self.route("GET", _PROVIDER + r"/sites/(?P<name>[^/]+)")(self._get_site)
        self.route("POST", _PROVIDER + r"/sites/(?P<name>[^/]+)/restart")(self._restart)
        self.route("GET", _PROVIDER + r"/serverfarms/(?P<name>[^/]+)")(self._get_plan)
        self.route("PATCH", _PROVIDER + r"/serverfarms/(?P<name>[^/]+)")(self._patch_plan)
        self.route("PUT", _PROVIDER + r"/serverfarms/(?P<name>[^/]+)")(self._put_plan)

    # --- test controls -----------------------------------------------------------------

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self.sites.clear()
            self.plans.clear()
            self.restarts.clear()
            self._failures.clear()

    def fail_next(
        self,
        status: int,
        *,
        method: str | None = None,
        path_contains: str = "",
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with `status` (and an ARM error body)."""
        default = {"error": {"code": f"Fake{status}", "message": f"injected failure {status}"}}
        with self._state_lock:
            self._failures.append(
                _Failure(status, method, path_contains, body or default, headers or {}, times)
            )

    def writes(self) -> list[RecordedRequest]:
        """Requests that could change something (everything but GET)."""
        return [r for r in self.calls() if r.method != "GET"]

    # --- dispatch ----------------------------------------------------------------------

    def _dispatch(self, req: RecordedRequest) -> Reply:
        if not req.headers.get("authorization", "").startswith("Bearer "):
            return arm_error(401, "AuthenticationFailed", "missing bearer token")
        if "api-version" not in req.query:
            return arm_error(400, "MissingApiVersionParameter", "api-version is required")
        with self._state_lock:
            for failure in self._failures:
                if (failure.method is None or failure.method == req.method) and (
                    failure.path_contains in req.path
                ):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return Reply(failure.status, failure.body, dict(failure.headers))
        return super()._dispatch(req)

    def _site(self, match: re.Match[str]) -> FakeSite | None:
        site = self.sites.get(match["name"])
        if (
            site is None
            or site.subscription != match["sub"]
            or site.resource_group.lower() != match["rg"].lower()
        ):
            return None
        return site

    def _plan(self, match: re.Match[str]) -> FakePlan | None:
        plan = self.plans.get(match["name"])
        if (
            plan is None
            or plan.subscription != match["sub"]
            or plan.resource_group.lower() != match["rg"].lower()
        ):
            return None
        return plan

    def _get_site(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        site = self._site(match)
        if site is None:
            return arm_error(404, "ResourceNotFound", f"site {match['name']} not found")
        return Reply(200, site.to_json())

    def _restart(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        site = self._site(match)
        if site is None:
            return arm_error(404, "ResourceNotFound", f"site {match['name']} not found")
        with self._state_lock:
            self.restarts[site.name] += 1
            site.last_modified = self.clock()
        return Reply(200, None)

    def _get_plan(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        plan = self._plan(match)
        if plan is None:
            return arm_error(404, "ResourceNotFound", f"plan {match['name']} not found")
        return Reply(200, plan.to_json())

    def _apply_sku(self, plan: FakePlan, body: dict[str, Any]) -> Reply | None:
        sku = body.get("sku") or {}
        capacity = sku.get("capacity")
        if capacity is None:
            return None
        if not isinstance(capacity, int) or capacity < 1 or capacity > plan.max_workers:
            return arm_error(400, "BadRequest", f"capacity {capacity} is outside 1..{plan.max_workers}")
        with self._state_lock:
            plan.capacity = capacity
        return None

    def _patch_plan(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        plan = self._plan(match)
        if plan is None:
            return arm_error(404, "ResourceNotFound", f"plan {match['name']} not found")
        error = self._apply_sku(plan, req.json() or {})
        return error or Reply(200, plan.to_json())

    def _put_plan(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        plan = self._plan(match)
        if plan is None:
            return arm_error(404, "ResourceNotFound", f"plan {match['name']} not found")
        body = req.json() or {}
        if "location" not in body:
            return arm_error(400, "LocationRequired", "a PUT must carry the resource's location")
        error = self._apply_sku(plan, body)
        return error or Reply(200, plan.to_json())
