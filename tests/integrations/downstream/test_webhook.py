"""webhook.post and its client: real httpx over HTTPS to a receiver that checks the HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.errors import IntegrationError
from bot.runbook_kit.services import ServiceRegistry
from bot.runbook_kit.spec import IncidentContext, Outcome, RunContext
from bot.runbook_kit.targets import parse_target
from integrations.downstream.message import incident_message
from integrations.downstream.settings import DownstreamSettings, WebhookEndpoint
from integrations.downstream.webhook import WebhookNotConfigured, WebhookSender, sign, verify_signature
from runbooks.incident_message import IncidentMessageParams
from runbooks.webhook_post import plan_post, post_webhook
from tests.fakes.tls import TestTLS as TLSFixture
from tests.fakes.webhook_receiver import WebhookReceiver

SECRET = b"s3cret-webhook-key"
NOW = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
INCIDENT = IncidentContext(
    incident_id="42",
    title="Orders API 5xx rate",
    severity="critical",
    status="open",
    summary="5xx above 5%",
    labels={"service": "orders", "resource": "aws:ecs:service/prod/orders-api"},
)
TARGET = parse_target("webhook:endpoint/orders")


@pytest.fixture(scope="module")
def receiver_server(test_tls: TLSFixture) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(tls=test_tls.server_context, secret=SECRET) as server:
        yield server


@pytest.fixture
def receiver(receiver_server: WebhookReceiver) -> WebhookReceiver:
    receiver_server.reset()
    return receiver_server


def _settings(receiver: WebhookReceiver, tls: TLSFixture, **overrides: object) -> DownstreamSettings:
    values: dict[str, object] = {
        "webhooks": {"orders": WebhookEndpoint(url=receiver.endpoint_url, secret_env="ORDERS_SECRET")},
        "ca_bundle": tls.ca_path,
        "webhook_retry_wait_seconds": 0,
        "webhook_max_attempts": 3,
        "webhook_timeout_seconds": 2,
    }
    values.update(overrides)
    return DownstreamSettings.model_validate(values)


def _sender(settings: DownstreamSettings, *, secret: str = SECRET.decode()) -> WebhookSender:
    return WebhookSender(settings, env={"ORDERS_SECRET": secret}, sleep=lambda _s: None)


def _ctx(sender: WebhookSender) -> RunContext:
    services = ServiceRegistry()
    services.put(DownstreamSettings, sender.settings)
    services.put(WebhookSender, sender)
    return RunContext(run_id="7", services=services, clock=lambda: NOW, incident=INCIDENT)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"42"}'
    expected = hmac.new(SECRET, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, body) == f"v1={expected}"


@pytest.mark.parametrize(
    ("timestamp", "body", "signature", "now", "ok"),
    [
        pytest.param("1700000000", b"x", sign(SECRET, 1700000000, b"x"), 1700000010, True, id="fresh"),
        pytest.param(
            "1700000000", b"y", sign(SECRET, 1700000000, b"x"), 1700000010, False, id="body-changed"
        ),
        pytest.param("1700000000", b"x", sign(b"other", 1700000000, b"x"), 1700000010, False, id="wrong-key"),
        pytest.param(
            "1700000000", b"x", sign(SECRET, 1700000000, b"x"), 1700000400, False, id="replayed-late"
        ),
        pytest.param("soon", b"x", sign(SECRET, 1700000000, b"x"), 1700000000, False, id="bad-timestamp"),
    ],
)
def test_verify_signature(timestamp: str, body: bytes, signature: str, now: int, ok: bool) -> None:
    assert verify_signature(SECRET, timestamp=timestamp, body=body, signature=signature, now=now) is ok


def test_runbook_posts_a_signed_message_the_receiver_accepts(
    receiver: WebhookReceiver, test_tls: TLSFixture
) -> None:
    ctx = _ctx(_sender(_settings(receiver, test_tls)))
    plan = plan_post(ctx, TARGET, IncidentMessageParams())
    assert plan.calls[0].params["url"] == receiver.endpoint_url
    assert receiver.requests == []

    result = post_webhook(ctx, TARGET, IncidentMessageParams())

    assert result.outcome is Outcome.CHANGED
    assert result.details["attempts"] == 1
    [message] = receiver.messages
    assert message == plan.calls[0].after
    assert message["id"] == "42" and message["severity"] == "critical" and message["service"] == "orders"
    [request] = receiver.requests
    assert request.headers["x-conductor-message-id"] == "conductor-42-run-7"
    assert SECRET.decode() not in repr(plan) + repr(result)


def test_wrong_secret_is_refused_and_not_retried(receiver: WebhookReceiver, test_tls: TLSFixture) -> None:
    ctx = _ctx(_sender(_settings(receiver, test_tls), secret="not-the-key"))
    with pytest.raises(IntegrationError, match="HTTP 401") as caught:
        post_webhook(ctx, TARGET, IncidentMessageParams())
    assert caught.value.retryable is False
    assert len(receiver.requests) == 1
    assert receiver.messages == []


def test_server_errors_are_retried_then_delivered(receiver: WebhookReceiver, test_tls: TLSFixture) -> None:
    receiver.fail_next(503, times=2)
    ctx = _ctx(_sender(_settings(receiver, test_tls)))
    result = post_webhook(ctx, TARGET, IncidentMessageParams())
    assert result.details["attempts"] == 3
    assert len(receiver.messages) == 1
    ids = {r.headers["x-conductor-message-id"] for r in receiver.requests}
    assert ids == {"conductor-42-run-7"}  # one id across attempts: the consumer can drop repeats


def test_attempts_are_bounded(receiver: WebhookReceiver, test_tls: TLSFixture) -> None:
    receiver.fail_next(500, times=10)
    ctx = _ctx(_sender(_settings(receiver, test_tls, webhook_max_attempts=2)))
    with pytest.raises(IntegrationError, match="HTTP 500") as caught:
        post_webhook(ctx, TARGET, IncidentMessageParams())
    assert caught.value.retryable is True
    assert len(receiver.requests) == 2


def test_a_slow_endpoint_times_out(receiver: WebhookReceiver, test_tls: TLSFixture) -> None:
    receiver.stall(1.0)
    sender = _sender(_settings(receiver, test_tls, webhook_timeout_seconds=0.2, webhook_max_attempts=1))
    with pytest.raises(IntegrationError, match=r"no answer within 0\.2 s"):
        post_webhook(_ctx(sender), TARGET, IncidentMessageParams())


def test_untrusted_certificate_is_refused(receiver: WebhookReceiver, test_tls: TLSFixture) -> None:
    sender = _sender(_settings(receiver, test_tls, ca_bundle=None, webhook_max_attempts=1))
    with pytest.raises(IntegrationError, match="cannot reach"):
        post_webhook(_ctx(sender), TARGET, IncidentMessageParams())
    assert receiver.messages == []


def test_unknown_endpoint_or_missing_secret_fails_in_the_plan(
    receiver: WebhookReceiver, test_tls: TLSFixture
) -> None:
    sender = _sender(_settings(receiver, test_tls))
    with pytest.raises(WebhookNotConfigured, match="no webhook endpoint 'billing'"):
        plan_post(_ctx(sender), parse_target("webhook:endpoint/billing"), IncidentMessageParams())
    unset = WebhookSender(sender.settings, env={})
    with pytest.raises(WebhookNotConfigured, match="ORDERS_SECRET"):
        plan_post(_ctx(unset), TARGET, IncidentMessageParams())
    assert receiver.requests == []


def test_message_link_falls_back_to_the_first_alert_link() -> None:
    incident = IncidentContext(
        incident_id="5", title="t", severity="info", status="open", links=["https://a", "https://b"]
    )
    assert incident_message(incident, run_id="1", now=NOW).link == "https://a"
    assert (
        incident_message(incident, run_id="1", now=NOW, link_template="https://c/{id}").link == "https://c/5"
    )


def test_settings_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookEndpoint(url="ftp://x", secret_env="S")
    with pytest.raises(ValueError, match="environment variable"):
        WebhookEndpoint(url="https://x", secret_env="not a var")
    with pytest.raises(ValueError, match="only \\{id\\}"):
        DownstreamSettings(incident_link="https://c/{incident}")
