"""pagerduty.page end to end: the real `pagerduty` client over HTTPS to the Events API fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.errors import IntegrationError
from bot.runbook_kit.services import ServiceRegistry
from bot.runbook_kit.spec import REGISTRY, ApprovalMode, IncidentContext, Outcome, Risk, RunContext
from bot.runbook_kit.targets import parse_target
from integrations.pagerduty.events import PagerDutyEvents
from integrations.pagerduty.settings import PagerDutySettings
from runbooks.pagerduty_page import RUNBOOK_ID, PageParams, page_pagerduty, plan_page
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.tls import TestTLS as TLSFixture

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ROUTING_KEY = "R0UT1NGKEY0000000000000000000002"
TARGET = parse_target("pagerduty:service/payments")
INCIDENT = IncidentContext(
    incident_id="inc-99",
    title="Payments error rate anomaly",
    severity="critical",
    status="firing",
    labels={"resource": "payments-api"},
)


@pytest.fixture(scope="module")
def pd_server(test_tls: TLSFixture) -> Iterator[FakePagerDuty]:
    with FakePagerDuty(tls=test_tls.server_context, routing_keys={ROUTING_KEY}) as server:
        yield server


@pytest.fixture
def pd(pd_server: FakePagerDuty) -> FakePagerDuty:
    pd_server.reset()
    return pd_server


@pytest.fixture
def ctx(pd: FakePagerDuty, test_tls: TLSFixture) -> RunContext:
    settings = PagerDutySettings(
        events_base_url=pd.url,
        routing_keys={"payments": "PD_KEY_PAYMENTS"},
        ca_bundle=test_tls.ca_path,
        retry_sleep_seconds=0,
        max_http_attempts=1,
    )
    services = ServiceRegistry()
    services.put(PagerDutyEvents, PagerDutyEvents(settings, env={"PD_KEY_PAYMENTS": ROUTING_KEY}))
    return RunContext(run_id="run-1", services=services, clock=lambda: NOW, incident=INCIDENT)


def test_registered_metadata() -> None:
    spec = REGISTRY.get(RUNBOOK_ID)
    assert spec is not None
    assert spec.risk is Risk.LOW
    assert spec.idempotent
    assert spec.approval.mode is ApprovalMode.NEVER
    assert spec.target_kind == "pagerduty:service"


def test_plan_names_the_service_never_the_key(ctx: RunContext, pd: FakePagerDuty) -> None:
    plan = plan_page(ctx, TARGET, PageParams())
    [call] = plan.calls
    assert call.operation == "EventsV2.trigger"
    assert call.params["service"] == "payments"
    assert call.params["dedup_key"] == "inc-99"
    assert ROUTING_KEY not in repr(plan)
    assert pd.requests == []


def test_trigger_then_acknowledge_then_resolve_follow_the_incident(
    ctx: RunContext, pd: FakePagerDuty
) -> None:
    for action in ("trigger", "trigger", "acknowledge", "resolve"):
        result = page_pagerduty(ctx, TARGET, PageParams(action=action))
        assert result.outcome is Outcome.CHANGED
        assert result.details["dedup_key"] == "inc-99"

    assert [e["event_action"] for e in pd.events] == ["trigger", "trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in pd.events} == {"inc-99"}
    assert pd.events[0]["payload"]["source"] == "payments-api"
    assert pd.events[0]["payload"]["severity"] == "critical"
    assert pd.alerts == {"inc-99": "resolved"}


def test_unknown_service_fails_in_the_plan(ctx: RunContext, pd: FakePagerDuty) -> None:
    with pytest.raises(IntegrationError, match="no routing key configured"):
        plan_page(ctx, parse_target("pagerduty:service/unknown"), PageParams())
    assert pd.requests == []


def test_throttling_is_retryable(ctx: RunContext, pd: FakePagerDuty) -> None:
    pd.fail_next(429, times=3)
    with pytest.raises(IntegrationError) as caught:
        page_pagerduty(ctx, TARGET, PageParams())
    assert caught.value.retryable is True
