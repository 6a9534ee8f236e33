"""Azure fakes (HTTPS, trustme CA) started once per module and reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.azure.settings import AzureSettings
from tests.fakes.azure_arm import FakeAzureArm, FakeCredential
from tests.fakes.azure_logs import FakeAzureLogs
from tests.fakes.tls import TestTLS as TLSFixture

SUB = "11111111-2222-3333-4444-555555555555"
WORKSPACE = "66666666-7777-8888-9999-000000000000"


@pytest.fixture(scope="module")
def arm_server(test_tls: TLSFixture) -> Iterator[FakeAzureArm]:
    with FakeAzureArm(tls=test_tls.server_context) as server:
        yield server


@pytest.fixture(scope="module")
def logs_server(test_tls: TLSFixture) -> Iterator[FakeAzureLogs]:
    with FakeAzureLogs(tls=test_tls.server_context) as server:
        yield server


@pytest.fixture
def arm(arm_server: FakeAzureArm) -> FakeAzureArm:
    arm_server.reset()
    return arm_server


@pytest.fixture
def logs(logs_server: FakeAzureLogs) -> FakeAzureLogs:
    logs_server.reset()
    return logs_server


@pytest.fixture
def credential() -> FakeCredential:
    return FakeCredential()


@pytest.fixture
def azure_settings(arm: FakeAzureArm, logs: FakeAzureLogs, test_tls: TLSFixture) -> AzureSettings:
    # max_retries=0: failure-path tests must not sit in azure-core's back-off.
    return AzureSettings(
        arm_endpoint=arm.url,
        logs_endpoint=logs.url,
        workspace_id=WORKSPACE,
        ca_bundle=test_tls.ca_path,
        max_retries=0,
        timeout_seconds=5,
    )
