"""Grafana's legacy (pre-8) alerting webhook: one alert per rule.

Fixtures: the example body of Grafana's legacy "Webhook" notifier documentation (verbatim), the
test notification Grafana sends from its "Test" button (the fields its alerting code fills in),
and a rule over host series in its alerting, ok and no_data states.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind, ParseOptions, envelope_of
from integrations.registry import get_screen
from tests.integrations.parsers.payloads import doc, parse, raw

DOCS = "grafana_legacy__alerting_panel_title_grafana_docs.json"
TEST = "grafana_legacy__test_notification.json"
ALERTING = "grafana_legacy__alerting_high_cpu_host_series.json"
OK = "grafana_legacy__ok_high_cpu.json"
NO_DATA = "grafana_legacy__no_data_high_cpu.json"


def test_documented_example_is_one_firing_alert() -> None:
    delivery = parse("grafana", DOCS)
    assert delivery.kind is DeliveryKind.ALERTS
    [alert] = delivery.alerts
    assert (alert.source, alert.name, alert.status, alert.severity) == (
        "grafana",
        "Panel Title alert",
        AlertStatus.FIRING,
        Severity.UNKNOWN,
    )
    assert alert.labels == {"tag name": "tag value"}
    assert alert.metric is not None
    assert (alert.metric.name, alert.metric.value) == ("Count", 1.0)
    assert alert.links == [
        "http://localhost:3000/d/hZ7BuVbWz/test-dashboard?fullscreen&edit&tab=alert&panelId=2&orgId=1",
        "https://grafana.com/static/assets/img/blog/mixed_styles.png",
    ]
    assert alert.summary == "Notification Message"


def test_one_alert_per_rule_with_the_matched_series_as_resource_and_severity_from_tags() -> None:
    [alert] = parse("grafana", ALERTING).alerts
    assert (alert.severity, alert.resource.type, alert.resource.id) == (Severity.CRITICAL, "host", "web-1")
    assert alert.metric is not None
    assert (alert.metric.name, alert.metric.value, alert.metric.dimensions) == (
        "cpu_usage_idle",
        97.3,
        {"host": "web-1", "cpu": "cpu-total"},
    )
    assert alert.annotations["matches"] == (
        "cpu_usage_idle{cpu=cpu-total, host=web-1}=97.3; cpu_usage_idle{cpu=cpu-total, host=web-2}=95.1"
    )


def test_ok_resolves_the_rule() -> None:
    firing = parse("grafana", ALERTING).alerts[0]
    [resolved] = parse("grafana", OK).alerts
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.fingerprint == firing.fingerprint
    other_org = doc(OK)
    other_org["orgId"] = 2
    assert parse("grafana", other_org).alerts[0].fingerprint != firing.fingerprint


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(ParseOptions(), (AlertStatus.FIRING, Severity.WARNING), id="default-firing-warning"),
        pytest.param(
            ParseOptions(grafana_no_data_status="firing", grafana_no_data_severity=Severity.CRITICAL),
            (AlertStatus.FIRING, Severity.CRITICAL),
            id="firing-critical",
        ),
        pytest.param(
            ParseOptions(grafana_no_data_status="resolved"),
            (AlertStatus.RESOLVED, Severity.CRITICAL),
            id="resolved",
        ),
        pytest.param(ParseOptions(grafana_no_data_status="ignore"), None, id="ignore"),
    ],
)
def test_no_data_follows_the_options(
    options: ParseOptions, expected: tuple[AlertStatus, Severity] | None
) -> None:
    alerts = parse("grafana", NO_DATA, options=options).alerts
    if expected is None:
        assert alerts == []
    else:
        assert [(a.status, a.severity) for a in alerts] == [expected]


@pytest.mark.parametrize("state", ["pending", "paused"])
def test_pending_and_paused_make_no_alert(state: str) -> None:
    payload = doc(ALERTING)
    payload["state"] = state
    delivery = parse("grafana", payload)
    assert (delivery.kind, delivery.alerts) == (DeliveryKind.ALERTS, [])


def test_test_notification_makes_no_alert() -> None:
    delivery = parse("grafana", TEST)
    assert (delivery.kind, delivery.alerts) == (DeliveryKind.TEST, [])
    assert get_screen("grafana")(raw(TEST), headers={}, options=ParseOptions()).kind is DeliveryKind.TEST


def test_a_real_rule_named_test_notification_still_alerts() -> None:
    payload = doc(ALERTING)
    payload["ruleName"] = "Test notification"
    assert len(parse("grafana", payload).alerts) == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param(
            {"state": "exploded"}, "state: expected alerting, ok, no_data, pending or paused", id="state"
        ),
        pytest.param({"state": None}, "state: required", id="no-state"),
        pytest.param({"ruleName": {"n": 1}}, "ruleName: expected a string", id="name"),
        pytest.param({"ruleId": [42]}, "ruleId: expected a string", id="rule-id"),
    ],
)
def test_bad_essential_fields_are_refused(changes: dict[str, Any], reason: str) -> None:
    payload = {**doc(ALERTING), **changes}
    with pytest.raises(MalformedPayload) as caught:
        parse("grafana", payload)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param({"evalMatches": "x"}, "evalMatches", id="matches"),
        pytest.param({"tags": ["severity"]}, "tags", id="tags"),
        pytest.param({"ruleUrl": {"u": 1}}, "ruleUrl", id="rule-url"),
    ],
)
def test_bad_optional_fields_are_emptied_and_screened_alike(changes: dict[str, Any], path: str) -> None:
    payload = copy.deepcopy({**doc(ALERTING), **changes})
    delivery = parse("grafana", payload)
    [alert] = delivery.alerts
    assert (alert.name, alert.status) == ("Web CPU busy", AlertStatus.FIRING)
    assert [w.path for w in delivery.warnings] == [path]
    body = json.dumps(payload).encode()
    assert get_screen("grafana")(body, headers={}, options=ParseOptions()) == envelope_of(delivery)
