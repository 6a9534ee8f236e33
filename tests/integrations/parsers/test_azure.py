"""Azure Monitor common alert schema: every alert kind, ARM resources, activity-log quirks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from bot.errors import MalformedPayload
from integrations.azure.arm import resource_from_arm_id
from tests.integrations.parsers.payloads import doc, parse

SUB = "5b1d6f9e-2c3a-4d8b-9e7f-0a1b2c3d4e5f"
APP_FIRED = "azure_monitor__metric_alert_app_service_http5xx_Fired.json"
APP_RESOLVED = "azure_monitor__metric_alert_app_service_http5xx_Resolved.json"
APP_TARGET = f"/subscriptions/{SUB}/resourcegroups/shop-prod/providers/microsoft.web/sites/shop-web"


def test_app_service_http5xx_alert() -> None:
    [alert] = parse("azure", APP_FIRED).alerts
    assert (alert.name, alert.status, alert.severity) == (
        "shop-web-http5xx",
        AlertStatus.FIRING,
        Severity.ERROR,
    )
    assert alert.resource.model_dump() == {
        "provider": "azure",
        "account": SUB,
        "region": None,
        "type": "web:site",
        "id": f"{SUB}/shop-prod/shop-web",
        "name": "shop-web",
    }
    assert f"azure:{alert.resource.type}/{alert.resource.id}" == f"azure:web:site/{SUB}/shop-prod/shop-web"
    assert alert.metric is not None
    assert alert.metric.model_dump() == {
        "namespace": "Microsoft.Web/sites",
        "name": "Http5xx",
        "dimensions": {"Instance": "pd1sdwk000AB2"},
        "statistic": "Total",
        "threshold": 50.0,
        "value": 137.0,
        "unit": None,
    }
    assert alert.labels["team"] == "shop"  # customProperties
    assert alert.starts_at == datetime(2024, 3, 5, 14, 2, 11, 973122, tzinfo=UTC)
    assert alert.links[0].startswith("https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/")


def test_resolved_pairs_with_fired() -> None:
    fired = parse("azure", APP_FIRED)
    resolved = parse("azure", APP_RESOLVED)
    assert resolved.alerts[0].status is AlertStatus.RESOLVED
    assert resolved.alerts[0].fingerprint == fired.alerts[0].fingerprint
    assert resolved.alerts[0].ends_at == datetime(2024, 3, 5, 14, 17, 40, 21337, tzinfo=UTC)
    assert resolved.idempotency_key != fired.idempotency_key
    assert fired.idempotency_key == parse("azure", APP_FIRED).idempotency_key


def test_multi_resource_alert_becomes_one_alert_per_target() -> None:
    alerts = parse("azure", "azure_monitor__metric_alert_multi_resource_two_targets_Fired.json").alerts
    assert [(a.resource.type, a.resource.name) for a in alerts] == [
        ("compute:virtualmachine", "batch-01"),
        ("compute:virtualmachine", "batch-02"),
    ]
    assert alerts[0].fingerprint != alerts[1].fingerprint
    assert {a.severity for a in alerts} == {Severity.WARNING}
    assert all(a.metric is not None and a.metric.value == 97.4 for a in alerts)


@pytest.mark.parametrize(
    ("fixture", "status", "severity", "resource_type", "name"),
    [
        pytest.param(
            "azure_monitor__metric_alert_Resolved_common_schema_msdocs.json",
            AlertStatus.RESOLVED,
            Severity.INFO,
            "compute:virtualmachine",
            "WCUS-R2-Gen2",
            id="metric-resolved",
        ),
        pytest.param(
            "azure_monitor__metric_alert_Fired_dynamic_threshold_test_action_msdocs.json",
            AlertStatus.FIRING,
            Severity.INFO,
            "storage:storageaccount",
            "test-metricAlertRule",
            id="dynamic-threshold",
        ),
        pytest.param(
            "azure_monitor__log_search_alert_v1_metric_measurement_Fired_test_action_msdocs.json",
            AlertStatus.FIRING,
            Severity.INFO,
            "operationalinsights:workspace",
            "test-logAlertRule-v1-metricMeasurement",
            id="log-v1",
        ),
        pytest.param(
            "azure_monitor__log_search_alert_v2_Fired_test_action_msdocs.json",
            AlertStatus.FIRING,
            Severity.INFO,
            "host",
            "test-logAlertRule-v2",
            id="log-v2",
        ),
        pytest.param(
            "azure_monitor__activity_log_administrative_Fired_test_action_msdocs.json",
            AlertStatus.FIRING,
            Severity.INFO,
            "compute:virtualmachine",
            "test-activityLogAlertRule",
            id="activity-administrative",
        ),
        pytest.param(
            "azure_monitor__activity_log_resource_health_Fired_test_action_msdocs.json",
            AlertStatus.FIRING,
            Severity.INFO,
            "compute:virtualmachine",
            "test-ResourceHealthAlertRule",
            id="resource-health-unavailable",
        ),
        pytest.param(
            "azure_monitor__activity_log_resource_health_Available_resolved.json",
            AlertStatus.RESOLVED,
            Severity.INFO,
            "compute:virtualmachine",
            "test-ResourceHealthAlertRule",
            id="resource-health-available",
        ),
        pytest.param(
            "azure_monitor__activity_log_service_health_Fired_stage_Resolved_test_action_msdocs.json",
            AlertStatus.RESOLVED,
            Severity.INFO,
            "subscription",
            "test-ServiceHealthAlertRule",
            id="service-health-fired-but-resolved",
        ),
        pytest.param(
            "azure_monitor__smart_detector_app_insights_dependency_latency_Fired_test_action_msdocs.json",
            AlertStatus.FIRING,
            Severity.INFO,
            "insights:component",
            "Dependency Latency Degradation - test-applicationInsights",
            id="smart-detector",
        ),
        pytest.param(
            "azure_monitor__cost_budget_actual_null_essentials_test_action_msdocs.json",
            AlertStatus.FIRING,
            Severity.WARNING,
            "subscription",
            "Test_actual_cost_budget",
            id="cost-budget-nulls",
        ),
        pytest.param(
            "azure_appinsights__smart_detection_failure_anomalies_Resolved_legacy_alertsmanagement_msdocs.json",
            AlertStatus.RESOLVED,
            Severity.INFO,
            "insights:component",
            "failure anomalies - test-rule",
            id="legacy-alerts-management",
        ),
    ],
)
def test_alert_kinds(
    fixture: str, status: AlertStatus, severity: Severity, resource_type: str, name: str
) -> None:
    [alert] = parse("azure", fixture).alerts
    assert (alert.status, alert.severity, alert.resource.type, alert.name) == (
        status,
        severity,
        resource_type,
        name,
    )
    assert alert.resource.provider.value == "azure"


def test_resource_health_unavailable_then_available_share_a_fingerprint() -> None:
    down = parse("azure", "azure_monitor__activity_log_resource_health_Fired_test_action_msdocs.json").alerts[
        0
    ]
    up = parse("azure", "azure_monitor__activity_log_resource_health_Available_resolved.json").alerts[0]
    assert (
        doc("azure_monitor__activity_log_resource_health_Available_resolved.json")["data"]["essentials"][
            "alertId"
        ]
        != doc("azure_monitor__activity_log_resource_health_Fired_test_action_msdocs.json")["data"][
            "essentials"
        ]["alertId"]
    )
    assert down.fingerprint == up.fingerprint
    assert (down.status, up.status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)


def test_service_health_fingerprint_follows_the_tracking_id() -> None:
    fixture = "azure_monitor__activity_log_service_health_Fired_stage_Resolved_test_action_msdocs.json"
    resolved = parse("azure", fixture).alerts[0]
    update = doc(fixture)
    update["data"]["essentials"]["alertId"] = (
        "/subscriptions/11111111-1111-1111-1111-111111111111/providers/x/alerts/other"
    )
    update["data"]["alertContext"]["status"] = "Active"
    update["data"]["alertContext"]["properties"]["stage"] = "Active"
    active = parse("azure", update).alerts[0]
    assert active.status is AlertStatus.FIRING
    assert active.fingerprint == resolved.fingerprint
    assert resolved.annotations["trackingId"] == "ABC1-DEF"
    assert resolved.starts_at == datetime(2021, 11, 16, 20, 0, tzinfo=UTC)  # impactStartTime
    assert resolved.ends_at == datetime(2021, 11, 17, 1, 0, tzinfo=UTC)  # impactMitigationTime


def test_log_search_v2_metric() -> None:
    [alert] = parse("azure", "azure_monitor__log_search_alert_v2_Fired_test_action_msdocs.json").alerts
    assert alert.metric is not None
    assert alert.metric.model_dump() == {
        "namespace": "Log Analytics",
        "name": "count",
        "dimensions": {"Computer": "test-computer"},
        "statistic": "Count",
        "threshold": 0.0,
        "value": 3.0,
        "unit": None,
    }
    assert alert.annotations["search_query"] == "Heartbeat"


def test_cost_budget_amounts_become_numbers() -> None:
    [alert] = parse(
        "azure", "azure_monitor__cost_budget_actual_null_essentials_test_action_msdocs.json"
    ).alerts
    assert alert.metric is not None
    assert (alert.metric.threshold, alert.metric.value, alert.metric.unit) == (25.0, 11111.0, "USD")
    assert alert.resource.account == "11111111-1111-1111-1111-111111111111"


@pytest.mark.parametrize(
    ("arm_id", "expected"),
    [
        pytest.param(
            f"/subscriptions/{SUB}/resourceGroups/RG/providers/Microsoft.Web/sites/app",
            ("web:site", f"{SUB}/RG/app", "app"),
            id="app-service",
        ),
        pytest.param(
            f"/subscriptions/{SUB}/resourcegroups/rg/providers/microsoft.web/serverfarms/plan",
            ("web:serverfarm", f"{SUB}/rg/plan", "plan"),
            id="plan",
        ),
        pytest.param(
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/s1/databases/db1",
            ("sql:server/database", f"{SUB}/rg/s1/db1", "db1"),
            id="nested",
        ),
        pytest.param(
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip",
            ("network:publicipaddress", f"{SUB}/rg/ip", "ip"),
            id="plural-es",
        ),
        pytest.param(
            f"/subscriptions/{SUB}/resourceGroups/rg", ("resourcegroup", f"{SUB}/rg", "rg"), id="group"
        ),
        pytest.param(f"/subscriptions/{SUB}", ("subscription", SUB, SUB), id="subscription"),
    ],
)
def test_arm_ids(arm_id: str, expected: tuple[str, str, str]) -> None:
    resource = resource_from_arm_id(arm_id)
    assert resource is not None
    assert (resource.type, resource.id, resource.name) == expected
    assert resource.account == SUB


def test_not_an_arm_id() -> None:
    assert resource_from_arm_id("budgets") is None


def _essentials(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = doc(APP_FIRED)
    payload["data"]["essentials"].update(changes)
    return payload


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            {"schemaId": "Microsoft.Insights/activityLogs", "data": {}}, "schemaId: expected", id="schema"
        ),
        pytest.param({"schemaId": "azureMonitorCommonAlertSchema"}, "data: required", id="no-data"),
        pytest.param(
            {"schemaId": "azureMonitorCommonAlertSchema", "data": {"alertContext": {}}},
            "data.essentials: required",
            id="no-essentials",
        ),
        pytest.param(
            _essentials(monitorCondition="Unknown"),
            "data.essentials.monitorCondition: expected Fired or Resolved, got 'Unknown'",
            id="condition",
        ),
        pytest.param(
            _essentials(alertId={"id": 1}), "data.essentials.alertId: expected a string", id="alert-id"
        ),
        pytest.param(_essentials(alertRule=[]), "data.essentials.alertRule: expected a string", id="rule"),
        pytest.param(
            {**doc(APP_FIRED), "data": {**doc(APP_FIRED)["data"], "essentials": "x"}},
            "data.essentials: expected an object",
            id="essentials",
        ),
    ],
)
def test_malformed(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse("azure", body)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("changes", "path", "check"),
    [
        pytest.param(
            {"alertTargetIDs": "x"},
            "data.essentials.alertTargetIDs",
            lambda a: a.resource.type is None and a.resource.account is not None,
            id="targets",
        ),
        pytest.param(
            {"alertTargetIDs": [1, APP_TARGET]},
            "data.essentials.alertTargetIDs[0]",
            lambda a: a.resource.type == "web:site",
            id="one-target-type",
        ),
        pytest.param(
            {"firedDateTime": "soon"},
            "data.essentials.firedDateTime",
            lambda a: a.starts_at is None,
            id="time",
        ),
        pytest.param(
            {"severity": {"s": 0}},
            "data.essentials.severity",
            lambda a: a.severity is Severity.UNKNOWN,
            id="sev",
        ),
    ],
)
def test_a_bad_optional_field_is_emptied_with_a_warning(
    changes: dict[str, Any], path: str, check: Any
) -> None:
    delivery = parse("azure", _essentials(**changes))
    [alert] = delivery.alerts
    sound = parse("azure", APP_FIRED).alerts[0]
    assert (alert.name, alert.status, alert.fingerprint) == (sound.name, sound.status, sound.fingerprint)
    assert check(alert)
    assert [w.path for w in delivery.warnings] == [path]
