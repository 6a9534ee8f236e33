"""Azure log-search and split metric alerts name the machine, not the workspace.

Fixtures: the v1 log alert combines the essentials of Microsoft's v1 test-action sample with
the ``monitoringService = Log Analytics`` alertContext sample of the common schema definitions
(``AffectedConfigurationItems: ["INC-Gen2Alert"]``); the VM metric alert with a ``ResourceId``
dimension holding a GUID is that page's Platform sample; the rest are derived from Microsoft's
log search v2 and metric samples (``_ResourceId`` split, a workspace metric split by
``Computer``, a managed Prometheus alert).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from integrations.azure.targets import alert_targets, choose
from integrations.base import DeliveryKind
from tests.integrations.parsers.payloads import doc, parse

SUB = "11111111-1111-1111-1111-111111111111"
WORKSPACE = (
    f"/subscriptions/{SUB}/resourcegroups/test-RG/providers/microsoft.operationalinsights/workspaces/"
    "test-logAnalyticsWorkspace"
)
V1_AFFECTED = "azure_monitor__log_search_alert_v1_affected_configuration_items_Fired_msdocs.json"
V1_TWO = "azure_monitor__log_search_alert_v1_two_affected_computers_Fired.json"
V1_EMPTY = "azure_monitor__log_search_alert_v1_metric_measurement_Fired_test_action_msdocs.json"
V2_COMPUTER = "azure_monitor__log_search_alert_v2_Fired_test_action_msdocs.json"
V2_RESOURCE_ID = "azure_monitor__log_search_alert_v2_split_by_resource_id_Fired.json"
METRIC_BY_COMPUTER = "azure_monitor__metric_alert_workspace_split_by_computer_Fired.json"
VM_GUID = "azure_monitor__metric_alert_vm_resource_id_guid_dimension_msdocs.json"
PROMETHEUS = "azure_monitor__prometheus_unknown_service_Fired.json"


def _host(name: str) -> dict[str, Any]:
    return {"provider": "azure", "account": SUB, "region": None, "type": "host", "id": name, "name": name}


def test_log_v1_affected_configuration_item_is_the_resource_and_the_workspace_a_label() -> None:
    [alert] = parse("azure", V1_AFFECTED).alerts
    assert alert.resource.model_dump() == _host("INC-Gen2Alert")
    assert alert.labels["workspace"] == WORKSPACE
    assert alert.fingerprint == doc(V1_AFFECTED)["data"]["essentials"]["alertId"]  # one resource
    assert alert.annotations["workspace_id"] == "2a1f50a7-ef97-420c-9d14-938e77c2a929"


def test_log_v1_with_two_computers_is_two_alerts() -> None:
    alerts = parse("azure", V1_TWO).alerts
    assert [a.resource.id for a in alerts] == ["INC-Gen2Alert", "INC-Gen2Alert-2"]
    assert len({a.fingerprint for a in alerts}) == 2
    assert {a.labels["workspace"] for a in alerts} == {WORKSPACE}


def test_log_v1_without_affected_items_stays_on_the_workspace() -> None:
    [alert] = parse("azure", V1_EMPTY).alerts
    assert alert.resource.type == "operationalinsights:workspace"
    assert "workspace" not in alert.labels


def test_log_v2_split_by_computer_names_the_computer() -> None:
    [alert] = parse("azure", V2_COMPUTER).alerts
    assert alert.resource.model_dump() == _host("test-computer")
    assert alert.labels["workspace"] == WORKSPACE
    assert alert.metric is not None and alert.metric.dimensions == {"Computer": "test-computer"}


def test_log_v2_split_by_resource_id_names_the_vm() -> None:
    [alert] = parse("azure", V2_RESOURCE_ID).alerts
    assert alert.resource.model_dump() == {
        "provider": "azure",
        "account": SUB,
        "region": None,
        "type": "compute:virtualmachine",
        "id": f"{SUB}/test-rg/test-vm-01",
        "name": "test-vm-01",
    }
    assert alert.labels["workspace"] == WORKSPACE


def test_a_machine_named_by_resource_id_and_computer_is_one_alert_on_the_vm() -> None:
    payload = copy.deepcopy(doc(V2_RESOURCE_ID))
    criterion = payload["data"]["alertContext"]["condition"]["allOf"][0]
    criterion["dimensions"].append({"name": "Computer", "value": "test-vm-01"})
    [alert] = parse("azure", payload).alerts
    assert (alert.resource.type, alert.resource.name) == ("compute:virtualmachine", "test-vm-01")


def test_metric_alert_on_a_workspace_split_by_computer_names_the_computer() -> None:
    [alert] = parse("azure", METRIC_BY_COMPUTER).alerts
    assert (alert.status, alert.resource.type, alert.resource.id) == (AlertStatus.FIRING, "host", "web-03")
    assert alert.labels["workspace"] == WORKSPACE
    assert alert.metric is not None and alert.metric.value == 97.2


def test_a_resource_id_dimension_that_is_not_an_arm_id_leaves_the_vm_target() -> None:
    [alert] = parse("azure", VM_GUID).alerts
    assert (alert.resource.type, alert.resource.name) == ("compute:virtualmachine", "wcus-r2-gen2")
    assert "alert_target" not in alert.labels


def test_a_computer_dimension_on_a_vm_target_does_not_replace_the_vm() -> None:
    payload = copy.deepcopy(doc(VM_GUID))
    payload["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] = [
        {"name": "Computer", "value": "other"}
    ]
    [alert] = parse("azure", payload).alerts
    assert alert.resource.type == "compute:virtualmachine"


def test_an_arm_dimension_on_another_scope_is_labelled_alert_target() -> None:
    targets = alert_targets(
        {"alertTargetIDs": [f"/subscriptions/{SUB}/resourceGroups/test-RG"]},
        "data.essentials",
        scope_id=None,
        alert_id="",
    )
    chosen = choose(
        targets, [f"/subscriptions/{SUB}/resourceGroups/test-RG/providers/Microsoft.Web/sites/shop"]
    )
    [resource] = chosen.resources
    assert (resource.type, resource.name) == ("web:site", "shop")
    assert chosen.labels == {"alert_target": f"/subscriptions/{SUB}/resourceGroups/test-RG"}


def test_a_malformed_affected_item_is_emptied_and_the_rest_kept() -> None:
    payload = copy.deepcopy(doc(V1_TWO))
    payload["data"]["alertContext"]["AffectedConfigurationItems"][0] = {"name": "x"}
    delivery = parse("azure", payload)
    assert [a.resource.id for a in delivery.alerts] == ["INC-Gen2Alert-2"]
    assert [w.path for w in delivery.warnings] == ["data.alertContext.AffectedConfigurationItems[0]"]


def test_unknown_monitoring_service_is_a_generic_alert_and_says_so() -> None:
    delivery = parse("azure", PROMETHEUS)
    assert (delivery.kind, delivery.unsupported_type) == (DeliveryKind.ALERTS, "Prometheus")
    [alert] = delivery.alerts
    assert (alert.name, alert.status, alert.severity) == (
        "KubePodCrashLooping",
        AlertStatus.FIRING,
        Severity.WARNING,
    )
    assert (alert.resource.type, alert.resource.name) == ("monitor:account", "test-amw")
    assert alert.summary == "Pod is crash looping."
    assert alert.metric is None


@pytest.mark.parametrize(
    "fixture",
    [
        "azure_monitor__activity_log_administrative_Fired_test_action_msdocs.json",
        "azure_monitor__activity_log_resource_health_Fired_test_action_msdocs.json",
        "azure_monitor__activity_log_service_health_Fired_stage_Resolved_test_action_msdocs.json",
        "azure_monitor__smart_detector_app_insights_dependency_latency_Fired_test_action_msdocs.json",
        "azure_monitor__cost_budget_actual_null_essentials_test_action_msdocs.json",
        "azure_monitor__metric_alert_Resolved_common_schema_msdocs.json",
    ],
)
def test_known_services_are_not_unsupported(fixture: str) -> None:
    delivery = parse("azure", fixture)
    assert delivery.unsupported_type is None and delivery.warnings == ()
