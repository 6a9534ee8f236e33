"""EventBridge: AWS Health, ECS Service Action, EC2 state changes and Glue Job Run Status.

Fixtures are the vendors' documented examples: the CloudWatch Events User Guide "AWS Health
Events" and "AWS Glue Events" samples (verbatim values), the ECS Developer Guide's "service
action events" samples (verbatim) and its Fargate task retirement Health event (a stray brace
removed, the description shortened), the EC2 state-change example of the EventBridge docs, and
an aws-samples EKS planned-lifecycle event (its ``detail`` verbatim, in the documented envelope).
Variants are derived from them in the tests.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.normalized import AlertStatus, Severity
from bot.errors import MalformedPayload
from integrations.aws.ecs_service_actions import PROBLEMS
from integrations.base import DeliveryKind, ParseOptions
from tests.integrations.parsers.payloads import doc, parse

EC2_DEGRADED = "aws_eventbridge__health_ec2_instance_store_drive_performance_degraded_awsdocs.json"
ELB_ISSUE = "aws_eventbridge__health_elb_api_issue_no_entities_awsdocs.json"
FARGATE_RETIREMENT = "aws_eventbridge__health_ecs_task_patching_retirement_scheduledChange_awsdocs.json"
EKS_LIFECYCLE = "aws_eventbridge__health_eks_planned_lifecycle_upcoming_entity_statuses.json"
PLACEMENT_FAILURE = (
    "aws_eventbridge__ecs_service_action_SERVICE_TASK_PLACEMENT_FAILURE_fargate_spot_awsdocs.json"
)
PLACEMENT_CPU = "aws_eventbridge__ecs_service_action_SERVICE_TASK_PLACEMENT_FAILURE_ec2_cpu_awsdocs.json"
START_IMPAIRED = "aws_eventbridge__ecs_service_action_SERVICE_TASK_START_IMPAIRED_awsdocs.json"
STEADY_STATE = "aws_eventbridge__ecs_service_action_SERVICE_STEADY_STATE_awsdocs.json"
CAPACITY_STEADY = "aws_eventbridge__ecs_service_action_CAPACITY_PROVIDER_STEADY_STATE_awsdocs.json"
EC2_PENDING = "aws_eventbridge__ec2_instance_state_change_pending_awsdocs.json"
GLUE_RUNNING = "aws_eventbridge__glue_job_run_status_RUNNING_awsdocs.json"
GLUE_STARTING = "aws_eventbridge__glue_job_run_status_STARTING_awsdocs.json"
GLUE_FAILED = "aws_eventbridge__glue_job_state_change_FAILED_awsdocs.json"
GLUE_SUCCEEDED = "aws_eventbridge__glue_job_state_change_SUCCEEDED_awsdocs.json"


def _with_detail(fixture: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(doc(fixture))
    event["detail"].update(changes)
    return event


# --- AWS Health ------------------------------------------------------------------------------


def test_health_issue_on_an_instance_fires_on_that_instance() -> None:
    delivery = parse("eventbridge", EC2_DEGRADED)
    assert delivery.idempotency_key == "eventbridge:121345678-1234-1234-1234-123456789012"
    [alert] = delivery.alerts
    assert (alert.name, alert.status, alert.severity) == (
        "AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED",
        AlertStatus.FIRING,
        Severity.ERROR,
    )
    assert alert.resource.model_dump() == {
        "provider": "aws",
        "account": "123456789012",
        "region": "us-west-2",
        "type": "ec2:instance",
        "id": "i-abcd1111",
        "name": "i-abcd1111",
    }
    assert alert.starts_at == datetime(2016, 6, 5, 15, 10, 9, tzinfo=UTC)  # "Sat, 05 Jun 2016 15:10:09 GMT"
    assert alert.summary == "A description of the event will be provided here"
    assert (alert.labels["stage"], alert.labels["app"], alert.labels["service"]) == ("prod", "my-app", "EC2")
    assert alert.annotations["event_arn"].endswith("_90353408594353980")


def test_health_closed_resolves_the_same_alert() -> None:
    opened = parse("eventbridge", _with_detail(EC2_DEGRADED, statusCode="open")).alerts[0]
    closed_event = _with_detail(EC2_DEGRADED, statusCode="closed", endTime="Sat, 05 Jun 2016 17:00:00 GMT")
    closed_event["id"] = "a-later-update"
    [closed] = parse("eventbridge", closed_event).alerts
    assert (opened.status, closed.status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)
    assert closed.fingerprint == opened.fingerprint
    assert closed.ends_at == datetime(2016, 6, 5, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status_code", "status"),
    [
        pytest.param("open", AlertStatus.FIRING, id="open"),
        pytest.param("upcoming", AlertStatus.FIRING, id="upcoming"),
        pytest.param("closed", AlertStatus.RESOLVED, id="closed"),
        pytest.param("CLOSED", AlertStatus.RESOLVED, id="case"),
    ],
)
def test_health_status_codes(status_code: str, status: AlertStatus) -> None:
    [alert] = parse("eventbridge", _with_detail(EC2_DEGRADED, statusCode=status_code)).alerts
    assert alert.status is status


@pytest.mark.parametrize(
    ("category", "severity"),
    [
        pytest.param("issue", Severity.ERROR, id="issue"),
        pytest.param("investigation", Severity.WARNING, id="investigation"),
        pytest.param("scheduledChange", Severity.WARNING, id="scheduled"),
        pytest.param("accountNotification", Severity.INFO, id="notification"),
        pytest.param("somethingNew", Severity.UNKNOWN, id="unknown"),
    ],
)
def test_health_severity_follows_the_category(category: str, severity: Severity) -> None:
    [alert] = parse("eventbridge", _with_detail(EC2_DEGRADED, eventTypeCategory=category)).alerts
    assert alert.severity is severity


def test_health_event_without_status_code_is_closed_only_when_it_ended_before_the_event() -> None:
    [elb] = parse("eventbridge", ELB_ISSUE).alerts  # endTime after the event's time: still open
    assert (elb.status, elb.resource.type, elb.resource.id) == (
        AlertStatus.FIRING,
        "health:event",
        doc(ELB_ISSUE)["detail"]["eventArn"],
    )
    ended = doc(ELB_ISSUE)
    ended["time"] = "2016-06-12T00:00:00Z"
    assert parse("eventbridge", ended).alerts[0].status is AlertStatus.RESOLVED


def test_health_one_alert_per_affected_entity_with_its_own_status() -> None:
    alerts = parse("eventbridge", EKS_LIFECYCLE).alerts
    assert [(a.resource.type, a.resource.id, a.status) for a in alerts] == [
        ("eks:cluster", "example1", AlertStatus.RESOLVED),  # entity statusCode RESOLVED
        ("eks:cluster", "example3", AlertStatus.FIRING),  # PENDING, event upcoming
    ]
    assert len({a.fingerprint for a in alerts}) == 2
    assert {a.severity for a in alerts} == {Severity.WARNING}  # plannedChange
    assert alerts[0].resource.account == "111122223333"


def test_health_fargate_retirement_names_each_task() -> None:
    alerts = parse("eventbridge", FARGATE_RETIREMENT).alerts
    assert [(a.resource.type, a.resource.id) for a in alerts] == [
        ("ecs:task", "examplecluster/00805ce1d81940b5a37398e5a2c23333"),
        ("ecs:task", "examplecluster/00805ce1d81940b5a37398e5a2c25555"),
    ]
    assert alerts[0].summary.startswith("A software update has been deployed to Fargate")
    assert alerts[0].ends_at is None


def test_health_entities_from_resources_when_detail_lists_none() -> None:
    event = doc(FARGATE_RETIREMENT)
    del event["detail"]["affectedEntities"]
    event["resources"] = ["prod|checkout"]
    [alert] = parse("eventbridge", event).alerts
    assert (alert.resource.type, alert.resource.id) == ("ecs:service", "prod/checkout")


def test_health_abuse_events_read_the_same_way() -> None:
    event = _with_detail(EC2_DEGRADED, eventTypeCode="AWS_ABUSE_DOS_REPORT", eventTypeCategory="issue")
    event["detail-type"] = "AWS Health Abuse Event"
    [alert] = parse("eventbridge", event).alerts
    assert (alert.name, alert.resource.id) == ("AWS_ABUSE_DOS_REPORT", "i-abcd1111")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param(
            {"statusCode": "paused"}, "detail.statusCode: expected open, upcoming or closed", id="status"
        ),
        pytest.param({"eventArn": None}, "detail.eventArn: required", id="no-arn"),
        pytest.param({"eventTypeCode": ["x"]}, "detail.eventTypeCode: expected a string", id="type-code"),
    ],
)
def test_health_bad_essential_fields_are_refused(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse("eventbridge", _with_detail(EC2_DEGRADED, **changes))
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param({"startTime": "soon"}, "detail.startTime", id="start-time"),
        pytest.param({"eventDescription": "text"}, "detail.eventDescription", id="description"),
        pytest.param(
            {"affectedEntities": [{"entityValue": "i-abcd1111", "tags": ["x"]}]},
            "detail.affectedEntities[0].tags",
            id="tags",
        ),
    ],
)
def test_health_bad_optional_fields_are_emptied(changes: dict[str, Any], path: str) -> None:
    delivery = parse("eventbridge", _with_detail(EC2_DEGRADED, **changes))
    [alert] = delivery.alerts
    assert (alert.status, alert.resource.id) == (AlertStatus.FIRING, "i-abcd1111")
    assert [w.path for w in delivery.warnings] == [path]


# --- ECS Service Action ----------------------------------------------------------------------


@pytest.mark.parametrize("fixture", [PLACEMENT_FAILURE, PLACEMENT_CPU])
def test_task_placement_failure_fires_on_the_service(fixture: str) -> None:
    [alert] = parse("eventbridge", fixture).alerts
    assert (alert.name, alert.status, alert.severity) == (
        "EcsServiceTaskPlacementFailure",
        AlertStatus.FIRING,
        Severity.ERROR,
    )
    assert alert.resource.model_dump() == {
        "provider": "aws",
        "account": "111122223333",
        "region": "us-west-2",
        "type": "ecs:service",
        "id": "default/servicetest",
        "name": "servicetest",
    }
    assert alert.summary.startswith("SERVICE_TASK_PLACEMENT_FAILURE on default/servicetest: RESOURCE:")
    assert alert.starts_at == datetime(2019, 11, 6, 19, 9, 33, 87000, tzinfo=UTC)


def test_task_start_impaired_is_a_warning() -> None:
    [alert] = parse("eventbridge", START_IMPAIRED).alerts
    assert (alert.name, alert.severity) == ("EcsServiceTaskStartImpaired", Severity.WARNING)


def test_steady_state_resolves_every_documented_problem_of_the_service() -> None:
    failure = parse("eventbridge", PLACEMENT_FAILURE).alerts[0]
    impaired = parse("eventbridge", START_IMPAIRED).alerts[0]
    resolved = parse("eventbridge", STEADY_STATE).alerts
    assert {a.status for a in resolved} == {AlertStatus.RESOLVED}
    assert len(resolved) == len(PROBLEMS)
    assert {failure.fingerprint, impaired.fingerprint} <= {a.fingerprint for a in resolved}
    assert {a.resource.id for a in resolved} == {"default/servicetest"}


def test_other_info_events_make_no_alert() -> None:
    delivery = parse("eventbridge", CAPACITY_STEADY)
    assert (delivery.kind, delivery.alerts) == (DeliveryKind.ALERTS, [])


def test_a_documented_problem_sent_as_info_still_fires_at_its_documented_severity() -> None:
    [alert] = parse("eventbridge", _with_detail(PLACEMENT_FAILURE, eventType="INFO")).alerts
    assert (alert.status, alert.severity) == (AlertStatus.FIRING, Severity.ERROR)


def test_an_undocumented_warning_fires_with_its_own_name() -> None:
    [alert] = parse("eventbridge", _with_detail(START_IMPAIRED, eventName="SERVICE_SOMETHING_NEW")).alerts
    assert (alert.name, alert.severity) == ("EcsServiceSomethingNew", Severity.WARNING)


def test_deployment_events_in_service_actions_read_as_deployment_state_changes() -> None:
    failed = parse("eventbridge", _with_detail(PLACEMENT_FAILURE, eventName="SERVICE_DEPLOYMENT_FAILED"))
    deployment = parse("eventbridge", "aws_eventbridge__ecs_deployment_state_change_FAILED_awsdocs.json")
    assert failed.alerts[0].fingerprint == deployment.alerts[0].fingerprint
    assert failed.alerts[0].name == "EcsDeploymentFailed"


def test_old_service_arn_takes_the_cluster_from_cluster_arn() -> None:
    event = doc(PLACEMENT_FAILURE)
    event["resources"] = ["arn:aws:ecs:us-west-2:111122223333:service/servicetest"]
    [alert] = parse("eventbridge", event).alerts
    assert (alert.resource.type, alert.resource.id) == ("ecs:service", "default/servicetest")


def test_no_service_at_all_aims_at_the_cluster() -> None:
    event = doc(PLACEMENT_FAILURE)
    event["resources"] = []
    [alert] = parse("eventbridge", event).alerts
    assert (alert.resource.type, alert.resource.id) == ("ecs:cluster", "default")


def test_service_action_without_event_type_is_refused() -> None:
    event = doc(PLACEMENT_FAILURE)
    del event["detail"]["eventType"]
    with pytest.raises(MalformedPayload, match=r"detail\.eventType: required"):
        parse("eventbridge", event)


# --- EC2 Instance State-change Notification -------------------------------------------------


def _ec2(state: str, instance: str = "i-abcd1111") -> dict[str, Any]:
    return _with_detail(EC2_PENDING, state=state, **{"instance-id": instance})


@pytest.mark.parametrize(
    ("state", "status", "severity"),
    [
        pytest.param("stopped", AlertStatus.FIRING, Severity.WARNING, id="stopped"),
        pytest.param("terminated", AlertStatus.FIRING, Severity.ERROR, id="terminated"),
        pytest.param("running", AlertStatus.RESOLVED, Severity.INFO, id="running"),
    ],
)
def test_ec2_states(state: str, status: AlertStatus, severity: Severity) -> None:
    [alert] = parse("eventbridge", _ec2(state)).alerts
    assert (alert.name, alert.status, alert.severity) == ("Ec2InstanceNotRunning", status, severity)
    assert (alert.resource.type, alert.resource.id, alert.resource.region) == (
        "ec2:instance",
        "i-abcd1111",
        "us-east-1",
    )


@pytest.mark.parametrize("state", ["pending", "stopping", "shutting-down"])
def test_ec2_transitional_states_make_no_alert(state: str) -> None:
    assert parse("eventbridge", _ec2(state)).alerts == []


def test_ec2_running_resolves_the_stop() -> None:
    stopped = parse("eventbridge", _ec2("stopped")).alerts[0]
    running = parse("eventbridge", _ec2("running")).alerts[0]
    assert stopped.fingerprint == running.fingerprint
    assert parse("eventbridge", _ec2("stopped", "i-other")).alerts[0].fingerprint != stopped.fingerprint


def test_ec2_states_and_expected_instances_are_configurable() -> None:
    only_terminated = ParseOptions(ec2_alert_states=("terminated",))
    assert parse("eventbridge", _ec2("stopped"), options=only_terminated).alerts == []
    assert len(parse("eventbridge", _ec2("terminated"), options=only_terminated).alerts) == 1
    expected = ParseOptions(ec2_expected_instances=("i-abcd*",))
    assert parse("eventbridge", _ec2("stopped"), options=expected).alerts == []
    assert len(parse("eventbridge", _ec2("stopped", "i-0ffe1234"), options=expected).alerts) == 1


def test_ec2_event_without_instance_id_is_refused() -> None:
    event = doc(EC2_PENDING)
    del event["detail"]["instance-id"]
    with pytest.raises(MalformedPayload, match=r"detail\.instance-id: required"):
        parse("eventbridge", event)


# --- Glue Job Run Status -----------------------------------------------------------------------


@pytest.mark.parametrize("fixture", [GLUE_RUNNING, GLUE_STARTING])
def test_a_run_past_its_notify_delay_is_a_warning_on_the_job(fixture: str) -> None:
    [alert] = parse("eventbridge", fixture).alerts
    assert (alert.name, alert.status, alert.severity) == (
        "GlueJobRunDelayed",
        AlertStatus.FIRING,
        Severity.WARNING,
    )
    assert (alert.resource.type, alert.resource.id) == ("glue:job", "MyJob")
    assert "past its notify delay of 1 min" in alert.summary


def test_the_runs_end_settles_the_delay() -> None:
    delayed = parse("eventbridge", GLUE_RUNNING).alerts[0]
    succeeded = _with_detail(GLUE_SUCCEEDED)
    failed = _with_detail(GLUE_FAILED)
    for event in (succeeded, failed):  # same account, region and job as the delayed run
        event.update(account="123456789012", region="us-east-1")
    assert parse("eventbridge", succeeded).alerts[0].fingerprint == delayed.fingerprint
    assert parse("eventbridge", failed).alerts[0].fingerprint == delayed.fingerprint


@pytest.mark.parametrize(
    ("state", "name", "status", "severity"),
    [
        pytest.param("TIMEOUT", "GlueJobFailed", AlertStatus.FIRING, Severity.WARNING, id="timeout"),
        pytest.param("FAILED", "GlueJobFailed", AlertStatus.FIRING, Severity.ERROR, id="failed"),
        pytest.param("ERROR", "GlueJobFailed", AlertStatus.FIRING, Severity.ERROR, id="error"),
        pytest.param("SUCCEEDED", "GlueJobFailed", AlertStatus.RESOLVED, Severity.INFO, id="succeeded"),
    ],
)
def test_terminal_states_in_run_status_read_as_job_state_changes(
    state: str, name: str, status: AlertStatus, severity: Severity
) -> None:
    severity_word = {"TIMEOUT": "WARN", "FAILED": "ERROR", "ERROR": "ERROR"}.get(state, "INFO")
    [alert] = parse("eventbridge", _with_detail(GLUE_RUNNING, state=state, severity=severity_word)).alerts
    assert (alert.name, alert.status, alert.severity) == (name, status, severity)
