"""AppServiceClient: the real azure-mgmt-web SDK over HTTPS to the recording ARM fake."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from bot.errors import IntegrationError
from integrations.azure.appservice import AppServiceClient
from integrations.azure.settings import AzureSettings
from tests.fakes.azure_arm import FakeAzureArm, FakeCredential, FakePlan, FakeSite
from tests.fakes.tls import TestTLS as TLSFixture

from .conftest import SUB


@pytest.fixture
def client(azure_settings: AzureSettings, credential: FakeCredential) -> AppServiceClient:
    return AppServiceClient(azure_settings, credential=credential)


def test_get_site_reads_state_and_last_modified_as_utc(
    arm: FakeAzureArm, client: AppServiceClient, credential: FakeCredential
) -> None:
    modified = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    arm.sites["web1"] = FakeSite(SUB, "rg-app", "web1", state="Running", last_modified=modified)

    site = client.get_site(SUB, "rg-app", "web1")

    assert site.state == "Running"
    assert site.is_running
    assert site.last_modified == modified
    assert site.resource_id.endswith("/providers/Microsoft.Web/sites/web1")
    [request] = arm.calls("GET")
    assert request.path == f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Web/sites/web1"
    assert request.headers["authorization"] == "Bearer fake-arm-token"
    # The token is asked for the configured endpoint's scope, not the SDK's default cloud.
    assert credential.scopes == [(f"{arm.url}/.default",)]


def test_restart_posts_once_and_soft_restart_sets_the_flag(
    arm: FakeAzureArm, client: AppServiceClient
) -> None:
    arm.sites["web1"] = FakeSite(SUB, "rg", "web1")

    client.restart(SUB, "rg", "web1")
    client.restart(SUB, "rg", "web1", soft=True)

    hard, soft = arm.calls("POST", "/restart")
    assert "softRestart" not in hard.query
    assert soft.query["softRestart"] == ["true"]
    assert arm.restarts["web1"] == 2


def test_set_plan_workers_puts_the_plan_with_the_new_capacity(
    arm: FakeAzureArm, client: AppServiceClient
) -> None:
    arm.plans["plan1"] = FakePlan(SUB, "rg", "plan1", capacity=2, max_workers=10)

    assert client.get_plan(SUB, "rg", "plan1").workers == 2
    scaled = client.set_plan_workers(SUB, "rg", "plan1", 5)

    assert (scaled.before, scaled.after.workers) == (2, 5)
    assert scaled.after.status == "Ready"
    assert scaled.after.sku == "S1"
    assert arm.plans["plan1"].capacity == 5
    [put] = arm.calls("PUT")
    body = put.json()
    assert body["sku"]["capacity"] == 5
    assert body["location"] == "westeurope"  # the full resource goes back, not a fragment
    assert "numberOfWorkers" not in body["properties"]  # read-only fields are left out


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        pytest.param(429, True, id="throttled"),
        pytest.param(500, True, id="server-error"),
        pytest.param(503, True, id="unavailable"),
        pytest.param(400, False, id="bad-request"),
        pytest.param(403, False, id="forbidden"),
        pytest.param(404, False, id="not-found"),
    ],
)
def test_http_errors_map_to_retryable(
    arm: FakeAzureArm, client: AppServiceClient, status: int, retryable: bool
) -> None:
    arm.sites["web1"] = FakeSite(SUB, "rg", "web1")
    arm.fail_next(status, method="POST")

    with pytest.raises(IntegrationError) as caught:
        client.restart(SUB, "rg", "web1")

    assert caught.value.retryable is retryable
    assert caught.value.system == "azure"
    assert f"HTTP {status}" in str(caught.value)
    assert arm.restarts["web1"] == 0


def test_unknown_site_is_not_retryable(arm: FakeAzureArm, client: AppServiceClient) -> None:
    with pytest.raises(IntegrationError) as caught:
        client.get_site(SUB, "rg", "nope")
    assert caught.value.retryable is False


def test_connection_refused_is_retryable(test_tls: TLSFixture, credential: FakeCredential) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = AzureSettings(
        arm_endpoint=f"https://127.0.0.1:{port}", ca_bundle=test_tls.ca_path, max_retries=0, timeout_seconds=2
    )
    with pytest.raises(IntegrationError) as caught:
        AppServiceClient(settings, credential=credential).get_site(SUB, "rg", "web1")
    assert caught.value.retryable is True


def test_settings_refuse_plain_http_and_inverted_guards() -> None:
    with pytest.raises(ValueError, match="https"):
        AzureSettings(arm_endpoint="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="min_workers"):
        AzureSettings(min_workers=5, max_workers=2)
    with pytest.raises(ValueError, match="extra"):
        AzureSettings.model_validate({"client_secret": "x"})
