"""PagerDutyEvents: the real `pagerduty` EventsApiV2Client over HTTPS to the recording fake."""

from __future__ import annotations

import pytest

from bot.errors import IntegrationError
from bot.runbook_kit.spec import IncidentContext
from integrations.pagerduty.events import PagerDutyEvents, page_event
from integrations.pagerduty.settings import PagerDutySettings
from tests.fakes.pagerduty import FakePagerDuty

from .conftest import PD_ENV, ROUTING_KEY

INCIDENT = IncidentContext(
    incident_id="inc-42",
    title="checkout p95 latency anomaly",
    severity="error",
    status="firing",
    summary="p95 2.3 s",
    anomaly_score=0.912345,
    explanation="score 0.91 above 0.70",
    labels={"resource": "checkout-api"},
    links=["https://grafana.example.com/d/checkout", "not-a-url"],
)


@pytest.fixture
def events(pd_settings: PagerDutySettings) -> PagerDutyEvents:
    return PagerDutyEvents(pd_settings, env=PD_ENV)


def test_trigger_acknowledge_resolve_carry_the_incident_id_as_dedup_key(
    pd: FakePagerDuty, events: PagerDutyEvents
) -> None:
    assert events.trigger(page_event(INCIDENT, source="checkout-api")) == "inc-42"
    assert events.acknowledge("inc-42") == "inc-42"
    assert events.resolve("inc-42") == "inc-42"

    assert [e["event_action"] for e in pd.events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in pd.events} == {"inc-42"}
    assert {e["routing_key"] for e in pd.events} == {ROUTING_KEY}
    trigger = pd.events[0]
    assert trigger["payload"]["summary"] == "checkout p95 latency anomaly: p95 2.3 s"
    assert trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["source"] == "checkout-api"
    assert trigger["payload"]["custom_details"]["anomaly_score"] == 0.9123
    assert trigger["links"] == [
        {"href": "https://grafana.example.com/d/checkout", "text": "https://grafana.example.com/d/checkout"}
    ]
    assert pd.alerts == {"inc-42": "resolved"}
    [first] = pd.calls("POST")[:1]
    assert first.path == "/v2/enqueue"


def test_page_uses_the_resource_label_as_source(pd: FakePagerDuty, events: PagerDutyEvents) -> None:
    assert events.page(INCIDENT, service="platform") == "inc-42"
    [event] = pd.events
    assert event["payload"]["source"] == "checkout-api"
    assert event["dedup_key"] == "inc-42"


def test_unknown_severity_pages_as_warning() -> None:
    incident = IncidentContext(incident_id="i", title="t", severity="unknown", status="firing")
    assert page_event(incident, source="s").severity == "warning"


def test_named_service_without_routing_key_is_not_paged(pd: FakePagerDuty, events: PagerDutyEvents) -> None:
    with pytest.raises(IntegrationError, match="PD_ROUTING_KEY_PAYMENTS") as caught:
        events.resolve("inc-42", service="payments")
    assert caught.value.retryable is False
    with pytest.raises(IntegrationError, match="no routing key configured"):
        events.resolve("inc-42", service="billing")
    assert pd.requests == []


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        pytest.param(429, True, id="throttled"),
        pytest.param(500, True, id="server-error"),
        pytest.param(503, True, id="unavailable"),
        pytest.param(400, False, id="invalid-event"),
        pytest.param(404, False, id="not-found"),
    ],
)
def test_http_errors_map_to_retryable(
    pd: FakePagerDuty, events: PagerDutyEvents, status: int, retryable: bool
) -> None:
    pd.fail_next(status, times=5)
    with pytest.raises(IntegrationError) as caught:
        events.acknowledge("inc-42")
    assert caught.value.retryable is retryable
    assert caught.value.system == "pagerduty"
    assert ROUTING_KEY not in str(caught.value)
    # Bounded: retryable statuses are tried max_http_attempts times, others once.
    assert len(pd.calls("POST")) == (2 if retryable else 1)


def test_a_key_pagerduty_rejects_is_not_retryable(pd_settings: PagerDutySettings) -> None:
    events = PagerDutyEvents(pd_settings, env={"PD_ROUTING_KEY_PLATFORM": "revoked-key"})
    with pytest.raises(IntegrationError, match="routing_key") as caught:
        events.resolve("inc-42")
    assert caught.value.retryable is False
    assert "revoked-key" not in str(caught.value)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        pytest.param({"events_base_url": "http://events.pagerduty.com"}, "https", id="http"),
        pytest.param(
            {"routing_keys": {"platform": "R0UTING KEY"}}, "environment variable", id="secret-inline"
        ),
        pytest.param({"default_service": "nope"}, "default_service", id="unknown-default"),
        pytest.param({"routing_key": "abc"}, "extra", id="no-secrets-in-config"),
    ],
)
def test_settings_validation(update: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PagerDutySettings.model_validate(update)
