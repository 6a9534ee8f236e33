"""The PagerDuty Events API fake (HTTPS: the client refuses http) and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.pagerduty.settings import PagerDutySettings
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.tls import TestTLS as TLSFixture

ROUTING_KEY = "R0UT1NGKEY0000000000000000000001"
PD_ENV = {"PD_ROUTING_KEY_PLATFORM": ROUTING_KEY}


@pytest.fixture(scope="module")
def pd_server(test_tls: TLSFixture) -> Iterator[FakePagerDuty]:
    with FakePagerDuty(tls=test_tls.server_context, routing_keys={ROUTING_KEY}) as server:
        yield server


@pytest.fixture
def pd(pd_server: FakePagerDuty) -> FakePagerDuty:
    pd_server.reset()
    return pd_server


@pytest.fixture
def pd_settings(pd: FakePagerDuty, test_tls: TLSFixture) -> PagerDutySettings:
    return PagerDutySettings(
        events_base_url=pd.url,
        routing_keys={"platform": "PD_ROUTING_KEY_PLATFORM", "payments": "PD_ROUTING_KEY_PAYMENTS"},
        default_service="platform",
        ca_bundle=test_tls.ca_path,
        retry_sleep_seconds=0,  # no back-off sleeps in tests
        max_http_attempts=2,
        timeout_seconds=5,
    )
