"""Grafana unified alerting webhook and its HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from bot.errors import MalformedPayload, Unauthenticated
from integrations.grafana.signature import verify_grafana_signature
from tests.integrations.parsers.payloads import doc, parse, raw

MIXED = "grafana_unified_alerting__firing_and_resolved_values.json"
NOW = datetime(2024, 3, 5, 17, 2, 30, tzinfo=UTC)


def test_resolved_v9_sample() -> None:
    [alert] = parse("grafana", "grafana_unified_alerting__resolved_v9_zulip.json").alerts
    assert (alert.source, alert.fingerprint, alert.status) == (
        "grafana",
        "d8a21484c9c25a60",
        AlertStatus.RESOLVED,
    )
    assert alert.ends_at == datetime(2022, 6, 17, 0, 51, 24, 67337, tzinfo=UTC)
    assert alert.metric is not None
    assert (alert.metric.name, alert.metric.value) == ("rabbitmq_queues", 24.0)
    assert (alert.resource.type, alert.resource.id) == (
        "instance",
        "otherhost.example.com",
    )  # from valueString
    assert (
        "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DTest+alert&matcher=test%3Dtrue"
        in alert.links
    )


def test_status_per_alert_values_and_links() -> None:
    delivery = parse("grafana", MIXED)
    firing, resolved = delivery.alerts
    assert doc(MIXED)["state"] == "alerting"
    assert (firing.status, resolved.status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)
    assert firing.severity is Severity.CRITICAL
    assert firing.metric is not None
    assert firing.metric.value is None  # B=1532 and C=1: ambiguous
    assert firing.annotations["values"] == "B=1532, C=1"
    assert resolved.metric is not None
    assert resolved.metric.value == 12.0
    assert firing.links == [
        "https://grafana.example.com/alerting/grafana/fdg7s1x2/view?orgId=1",
        "https://grafana.example.com/d/mq-overview?orgId=1",
        "https://grafana.example.com/d/mq-overview?orgId=1&viewPanel=4",
        "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=__alert_rule_uid__%3Dfdg7s1x2&orgId=1",
    ]
    assert (firing.resource.type, firing.resource.id) == ("instance", "mq-1.internal")


def test_idempotency_key_is_independent_of_order_and_external_url() -> None:
    other = doc(MIXED)
    other["alerts"].reverse()
    other["externalURL"] = "https://grafana-2.example.com/"
    assert parse("grafana", other).idempotency_key == parse("grafana", MIXED).idempotency_key
    other["alerts"][0]["status"] = "firing"
    other["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"
    assert parse("grafana", other).idempotency_key != parse("grafana", MIXED).idempotency_key


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({"receiver": "x"}, "alerts: required", id="no-alerts"),
        pytest.param(
            {"alerts": [{"status": "alerting"}]}, "alerts[0].status: expected firing or resolved", id="state"
        ),
        pytest.param(
            {"alerts": [{"status": "firing", "labels": "x"}]},
            "alerts[0].labels: expected an object",
            id="labels",
        ),
    ],
)
def test_malformed(body: dict[str, object], reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse("grafana", body)
    assert caught.value.reason.startswith(reason)


def test_malformed_values_are_emptied_with_a_warning() -> None:
    delivery = parse(
        "grafana", {"alerts": [{"status": "firing", "labels": {"alertname": "A"}, "values": [1]}]}
    )
    [alert] = delivery.alerts
    assert (alert.name, alert.status, alert.metric) == ("A", AlertStatus.FIRING, None)
    assert [(w.path, w.reason) for w in delivery.warnings] == [
        ("alerts[0].values", "alerts[0].values: expected an object, got an array")
    ]


BODY = raw(MIXED)


def _sign(secret: str, body: bytes, timestamp: str | None = None) -> str:
    signed = body if timestamp is None else timestamp.encode() + b":" + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def test_body_signature_default_header() -> None:
    verify_grafana_signature(BODY, {"X-Grafana-Alerting-Signature": _sign("k", BODY)}, ["k"])


def test_library_default_header_is_also_read() -> None:
    verify_grafana_signature(BODY, {"x-grafana-alert-signature": _sign("k", BODY)}, ["k"])


def test_custom_header_and_rotation() -> None:
    verify_grafana_signature(BODY, {"X-Sig": _sign("new", BODY)}, ["old", "new"], signature_header="X-Sig")


def test_timestamped_signature() -> None:
    timestamp = str(int(NOW.timestamp()) - 30)
    headers = {
        "X-Grafana-Alerting-Signature": _sign("k", BODY, timestamp),
        "X-Grafana-Alerting-Timestamp": timestamp,
    }
    verify_grafana_signature(
        BODY, headers, ["k"], timestamp_header="X-Grafana-Alerting-Timestamp", clock=lambda: NOW
    )


@pytest.mark.parametrize(
    ("age", "ok"),
    [
        pytest.param(timedelta(minutes=4, seconds=59), True, id="4m59s"),
        pytest.param(timedelta(minutes=5, seconds=1), False, id="stale"),
        pytest.param(-timedelta(minutes=6), False, id="future"),
    ],
)
def test_stale_timestamps_are_refused(age: timedelta, ok: bool) -> None:
    timestamp = str(int((NOW - age).timestamp()))
    headers = {"X-Grafana-Alerting-Signature": _sign("k", BODY, timestamp), "X-TS": timestamp}
    if ok:
        verify_grafana_signature(BODY, headers, ["k"], timestamp_header="X-TS", clock=lambda: NOW)
    else:
        with pytest.raises(Unauthenticated, match="too old or in the future"):
            verify_grafana_signature(BODY, headers, ["k"], timestamp_header="X-TS", clock=lambda: NOW)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param(
            {"X-Grafana-Alerting-Signature": _sign("k", BODY + b"x")}, "does not match", id="tampered"
        ),
        pytest.param(
            {"X-Grafana-Alerting-Signature": _sign("other", BODY)}, "does not match", id="wrong-secret"
        ),
        pytest.param({}, "missing X-Grafana-Alerting-Signature", id="missing"),
        pytest.param(
            {"X-Grafana-Alerting-Signature": _sign("k", BODY, "1709658150")},
            "does not match",
            id="timestamped-signature-without-timestamp-config",
        ),
    ],
)
def test_bad_signatures(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        verify_grafana_signature(BODY, headers, ["k"])


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param(
            {"X-Grafana-Alerting-Signature": _sign("k", BODY)}, "missing X-TS", id="missing-timestamp"
        ),
        pytest.param(
            {"X-Grafana-Alerting-Signature": _sign("k", BODY), "X-TS": "yesterday"},
            "not a Unix timestamp",
            id="bad-timestamp",
        ),
        pytest.param(
            {"X-Grafana-Alerting-Signature": _sign("k", BODY), "X-TS": str(int(NOW.timestamp()))},
            "does not match",
            id="timestamp-not-signed",
        ),
    ],
)
def test_timestamp_problems(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        verify_grafana_signature(BODY, headers, ["k"], timestamp_header="X-TS", clock=lambda: NOW)


def test_no_secret_configured() -> None:
    with pytest.raises(Unauthenticated, match="no Grafana webhook secret"):
        verify_grafana_signature(BODY, {"X-Grafana-Alerting-Signature": _sign("k", BODY)}, [])
