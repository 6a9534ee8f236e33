"""EventBridge: CloudWatch alarm state changes, Glue jobs, ECS tasks and deployments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind
from tests.integrations.parsers.payloads import doc, parse

GLUE_FAILED = "aws_eventbridge__glue_job_state_change_FAILED_awsdocs.json"
GLUE_SUCCEEDED = "aws_eventbridge__glue_job_state_change_SUCCEEDED_awsdocs.json"


def test_single_metric_alarm_state_change() -> None:
    delivery = parse(
        "eventbridge", "aws_eventbridge__cloudwatch_alarm_state_change_single_metric_awsdocs.json"
    )
    assert delivery.idempotency_key == "eventbridge:c4c1c1c9-6542-e61b-6ef0-8c4d36933a92"
    [alert] = delivery.alerts
    assert (alert.name, alert.status, alert.severity) == (
        "ServerCpuTooHigh",
        AlertStatus.FIRING,
        Severity.UNKNOWN,
    )
    assert alert.resource.model_dump() == {
        "provider": "aws",
        "account": "123456789012",
        "region": "us-east-1",
        "type": "ec2:instance",
        "id": "i-12345678901234567",
        "name": "i-12345678901234567",
    }
    assert alert.metric is not None
    assert alert.metric.model_dump() == {
        "namespace": "AWS/EC2",
        "name": "CPUUtilization",
        "dimensions": {"InstanceId": "i-12345678901234567"},
        "statistic": "Average",
        "threshold": 50.0,
        "value": 99.50160229693434,
        "unit": None,
    }
    assert alert.starts_at == datetime(2019, 10, 2, 17, 4, 40, 989000, tzinfo=UTC)
    assert alert.annotations["old_state"] == "OK"


def test_alarm_ok_resolves_with_the_same_fingerprint() -> None:
    firing = parse(
        "eventbridge", "aws_eventbridge__cloudwatch_alarm_state_change_single_metric_awsdocs.json"
    ).alerts[0]
    ok = parse("eventbridge", "eventbridge__cloudwatch_alarm_state_change_single_metric_OK.json")
    [resolved] = ok.alerts
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.metric is not None
    assert resolved.metric.value == 12.3
    assert ok.idempotency_key != "eventbridge:c4c1c1c9-6542-e61b-6ef0-8c4d36933a92"


def test_same_alarm_over_sns_and_eventbridge_has_the_same_fingerprint_and_target() -> None:
    over_eventbridge = parse(
        "eventbridge", "eventbridge__cloudwatch_alarm_state_change_ecs_service_ALARM.json"
    ).alerts[0]
    over_sns = parse("cloudwatch", "cloudwatch_sns__single_metric_ecs_service_ALARM.json").alerts[0]
    assert over_eventbridge.fingerprint == over_sns.fingerprint
    assert over_eventbridge.resource == over_sns.resource
    assert (over_eventbridge.resource.type, over_eventbridge.resource.id) == ("ecs:service", "prod/checkout")


def test_metric_math_alarm_state_change() -> None:
    [alert] = parse(
        "eventbridge", "aws_eventbridge__cloudwatch_alarm_state_change_metric_math_awsdocs.json"
    ).alerts
    assert alert.metric is not None
    assert (alert.metric.threshold, alert.metric.value) == (10000.0, 45628.0)
    assert alert.annotations["expression"] == "SUM(METRICS())"
    assert alert.annotations["old_state"] == "INSUFFICIENT_DATA"


def test_anomaly_band_alarm_state_change() -> None:
    [alert] = parse(
        "eventbridge", "aws_eventbridge__cloudwatch_alarm_state_change_anomaly_detection_awsdocs.json"
    ).alerts
    assert alert.metric is not None
    assert alert.metric.threshold is None
    assert alert.metric.value == 0.0
    assert alert.annotations["band"] == "0.020599444741798756..0.3006915352732461"


def test_composite_alarm_with_suppressor() -> None:
    [alert] = parse(
        "eventbridge", "aws_eventbridge__cloudwatch_alarm_state_change_composite_suppressor_awsdocs.json"
    ).alerts
    assert alert.resource.type == "cloudwatch:alarm"
    assert alert.resource.id == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServiceAggregatedAlarm"
    assert alert.annotations["actions_suppressed_by"] == "WaitPeriod"
    assert alert.annotations["triggering_alarms"] == "ServerCpuTooHigh"
    assert alert.metric is None


def test_alarm_configuration_change_is_not_an_alert() -> None:
    delivery = parse(
        "eventbridge", "aws_eventbridge__cloudwatch_alarm_configuration_change_update_awsdocs.json"
    )
    assert delivery.alerts == []
    assert delivery.idempotency_key == "eventbridge:bc7d3391-47f8-ae47-f457-1b4d06118d50"


@pytest.mark.parametrize(
    ("fixture", "status", "severity"),
    [
        pytest.param(GLUE_FAILED, AlertStatus.FIRING, Severity.ERROR, id="failed"),
        pytest.param(
            "aws_eventbridge__glue_job_state_change_TIMEOUT_awsdocs.json",
            AlertStatus.FIRING,
            Severity.WARNING,
            id="timeout",
        ),
        pytest.param(
            "aws_eventbridge__glue_job_state_change_STOPPED_awsdocs.json",
            AlertStatus.FIRING,
            Severity.WARNING,
            id="stopped-is-a-warning",
        ),
        pytest.param(GLUE_SUCCEEDED, AlertStatus.RESOLVED, Severity.INFO, id="succeeded"),
    ],
)
def test_glue_job_states(fixture: str, status: AlertStatus, severity: Severity) -> None:
    [alert] = parse("eventbridge", fixture).alerts
    assert (alert.status, alert.severity) == (status, severity)
    assert alert.resource.model_dump(include={"provider", "type", "id", "name"}) == {
        "provider": "aws",
        "type": "glue:job",
        "id": "MyJob",
        "name": "MyJob",
    }
    assert alert.labels == {"job_name": "MyJob"}


def test_glue_success_resolves_the_failure_of_another_run() -> None:
    failed = parse("eventbridge", GLUE_FAILED).alerts[0]
    succeeded = parse("eventbridge", GLUE_SUCCEEDED).alerts[0]
    assert failed.annotations["job_run_id"] != succeeded.annotations["job_run_id"]
    assert failed.fingerprint == succeeded.fingerprint
    assert failed.starts_at == datetime(2017, 9, 7, 6, 2, 3, tzinfo=UTC)
    assert succeeded.ends_at == datetime(2017, 9, 7, 18, 57, 21, tzinfo=UTC)


def test_glue_running_is_not_an_alert() -> None:
    event = doc(GLUE_FAILED)
    event["detail"]["state"] = "RUNNING"
    assert parse("eventbridge", event).alerts == []


def test_ecs_task_stopped_by_an_essential_container_exit() -> None:
    [alert] = parse("eventbridge", "eventbridge__ecs_task_state_change_STOPPED_exit_137.json").alerts
    assert (alert.name, alert.status, alert.severity) == (
        "EcsEssentialContainerExited",
        AlertStatus.FIRING,
        Severity.ERROR,
    )
    assert alert.resource.model_dump() == {
        "provider": "aws",
        "account": "111122223333",
        "region": "us-west-2",
        "type": "ecs:service",
        "id": "prod/api",
        "name": "api",
    }
    assert alert.summary == (
        "Essential container api exited with code 137: OutOfMemoryError: Container killed due to memory usage"
    )
    assert alert.annotations["exit_code.api"] == "137"
    assert "exit_code.log-router" not in alert.annotations
    assert alert.starts_at == datetime(2024, 3, 5, 12, 31, 13, 512000, tzinfo=UTC)


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param("aws_eventbridge__ecs_task_state_change_RUNNING_awsdocs.json", id="running"),
        pytest.param("eventbridge__ecs_task_state_change_STOPPED_scale_in.json", id="scale-in-exit-0"),
    ],
)
def test_other_ecs_task_events_are_not_alerts(fixture: str) -> None:
    assert parse("eventbridge", fixture).alerts == []


def test_ecs_deployment_failed_then_completed() -> None:
    [failed] = parse("eventbridge", "aws_eventbridge__ecs_deployment_state_change_FAILED_awsdocs.json").alerts
    [completed] = parse("eventbridge", "eventbridge__ecs_deployment_state_change_COMPLETED.json").alerts
    assert (failed.status, failed.severity) == (AlertStatus.FIRING, Severity.ERROR)
    assert completed.status is AlertStatus.RESOLVED
    assert failed.fingerprint == completed.fingerprint
    assert (failed.resource.type, failed.resource.id) == ("ecs:service", "default/servicetest")
    assert failed.summary == "ECS deployment circuit breaker: task failed to start."


def test_unknown_detail_type_is_unsupported_not_dropped() -> None:
    event = doc(GLUE_FAILED)
    event.update({"source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption Warning"})
    delivery = parse("eventbridge", event)
    assert delivery.kind is DeliveryKind.UNSUPPORTED
    assert delivery.unsupported_type == "aws.ec2: EC2 Spot Instance Interruption Warning"
    assert delivery.alerts == []
    assert delivery.idempotency_key == "eventbridge:abcdef01-1234-5678-9abc-def012345678"


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = doc(GLUE_FAILED)
    event.update(changes)
    return event


def _detail(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = doc(GLUE_FAILED)
    event["detail"].update(changes)
    return event


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({"hello": 1}, "detail-type: required", id="not-an-event"),
        pytest.param(
            {k: v for k, v in doc(GLUE_FAILED).items() if k != "detail"}, "detail: required", id="no-detail"
        ),
        pytest.param(_event(detail="x"), "detail: expected an object, got a string", id="detail-string"),
        pytest.param(_detail(jobName=None), "detail.jobName: required", id="glue-no-job"),
        pytest.param(_event(id={"a": 1}), "id: expected a string, got an object", id="bad-id"),
        pytest.param(
            {
                **doc("aws_eventbridge__cloudwatch_alarm_state_change_single_metric_awsdocs.json"),
                "detail": {"alarmName": "x", "state": {"value": "MAYBE"}},
            },
            "detail.state.value: expected ALARM, OK or INSUFFICIENT_DATA, got 'MAYBE'",
            id="alarm-state",
        ),
        pytest.param(
            {
                **doc("aws_eventbridge__ecs_task_state_change_RUNNING_awsdocs.json"),
                "detail": {"lastStatus": []},
            },
            "detail.lastStatus: expected a string, got an array",
            id="task-status",
        ),
    ],
)
def test_malformed(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse("eventbridge", body)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("body", "path", "emptied"),
    [
        pytest.param(_event(time="not-a-time"), "time", lambda a: a.starts_at is None, id="bad-time"),
        pytest.param(
            _detail(message={"m": 1}),
            "detail.message",
            lambda a: a.summary == "Glue job MyJob: FAILED",
            id="message",
        ),
        pytest.param(_event(account=[1]), "account", lambda a: a.resource.account is None, id="account"),
    ],
)
def test_a_bad_optional_field_is_emptied_with_a_warning(
    body: dict[str, Any], path: str, emptied: Any
) -> None:
    delivery = parse("eventbridge", body)
    [alert] = delivery.alerts
    assert (alert.name, alert.status, alert.resource.id) == ("GlueJobFailed", AlertStatus.FIRING, "MyJob")
    assert emptied(alert)
    assert [w.path for w in delivery.warnings] == [path]
