"""CloudWatch alarms over SNS: envelope types, alarm shapes, regions, INSUFFICIENT_DATA, keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.normalized import AlertStatus, Provider, Severity
from bot.errors import MalformedPayload
from integrations.aws.regions import region_code
from integrations.base import DeliveryKind, ParseOptions
from tests.integrations.parsers.payloads import doc, parse, raw

ECS_ALARM = "cloudwatch_sns__single_metric_ecs_service_ALARM.json"
ECS_OK = "cloudwatch_sns__single_metric_ecs_service_OK.json"


def test_single_metric_alarm_on_an_ecs_service() -> None:
    delivery = parse("cloudwatch", ECS_ALARM)
    assert delivery.kind is DeliveryKind.ALERTS
    assert delivery.idempotency_key == "sns:f6a5b8c4-31f2-5f0e-9a4c-1d2e3f4a5b6c"
    assert delivery.topic_arn == "arn:aws:sns:eu-west-1:123456789012:cloudwatch-alarms"
    [alert] = delivery.alerts
    assert (alert.source, alert.name) == ("cloudwatch", "checkout-cpu-high")
    assert alert.status is AlertStatus.FIRING
    assert alert.severity is Severity.UNKNOWN
    assert alert.resource.model_dump() == {
        "provider": "aws",
        "account": "123456789012",
        "region": "eu-west-1",
        "type": "ecs:service",
        "id": "prod/checkout",
        "name": "checkout",
    }
    assert alert.metric is not None
    assert alert.metric.model_dump() == {
        "namespace": "AWS/ECS",
        "name": "CPUUtilization",
        "dimensions": {"ClusterName": "prod", "ServiceName": "checkout"},
        "statistic": "AVERAGE",
        "threshold": 85.0,
        "value": 91.73,
        "unit": "Percent",
    }
    assert alert.starts_at == datetime(2024, 3, 5, 10, 16, 2, 474000, tzinfo=UTC)
    assert alert.ends_at is None
    assert alert.description == "CPU of the checkout service above 85% for 10 minutes"
    assert alert.labels == {
        "alarm_name": "checkout-cpu-high",
        "ClusterName": "prod",
        "ServiceName": "checkout",
    }
    assert alert.links == [
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/checkout-cpu-high"
    ]


def test_ok_resolves_the_same_alarm() -> None:
    firing = parse("cloudwatch", ECS_ALARM).alerts[0]
    resolved = parse("cloudwatch", ECS_OK).alerts[0]
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.ends_at == datetime(2024, 3, 5, 10, 41, 2, 109000, tzinfo=UTC)
    assert resolved.starts_at is None


def test_older_message_without_arn_and_with_dash_region_has_the_same_identity() -> None:
    alert = parse("cloudwatch", "cloudwatch_sns__single_metric_legacy_region_no_arn_ALARM.json").alerts[0]
    assert alert.resource.region == "eu-west-1"  # from "EU - Ireland"
    assert alert.fingerprint == parse("cloudwatch", ECS_ALARM).alerts[0].fingerprint
    assert alert.metric is not None
    assert alert.metric.statistic == "p99"
    assert alert.metric.unit is None
    assert alert.metric.value == 93.0  # "1 datapoint (93.0) was greater than ..."


def test_metric_math_alarm_on_an_auto_scaling_group() -> None:
    [alert] = parse("cloudwatch", "cloudwatch_sns__metric_math_asg_ALARM.json").alerts
    assert alert.resource.model_dump() == {
        "provider": "aws",
        "account": "210987654321",
        "region": "us-east-1",
        "type": "autoscaling:group",
        "id": "web-prod-asg",
        "name": "web-prod-asg",
    }
    assert alert.metric is not None
    assert (alert.metric.namespace, alert.metric.name, alert.metric.statistic) == (
        "App/Web",
        "RequestCount",
        "Sum",
    )
    assert (alert.metric.threshold, alert.metric.value) == (5.0, 7.5)
    assert alert.annotations["expression"] == "100*(m2/m1)"
    assert alert.description == ""  # AlarmDescription: null


def test_anomaly_band_alarm_has_no_threshold() -> None:
    [alert] = parse("cloudwatch", "cloudwatch_sns__anomaly_band_alb_ALARM.json").alerts
    assert (alert.resource.type, alert.resource.id, alert.resource.name) == (
        "elb:loadbalancer",
        "app/shop-alb/50dc6c495c0c9188",
        "shop-alb",
    )
    assert alert.resource.region == "eu-central-1"
    assert alert.metric is not None
    assert alert.metric.name == "TargetResponseTime"
    assert alert.metric.threshold is None
    assert alert.metric.value == 2.31
    assert alert.annotations["expression"] == "ANOMALY_DETECTION_BAND(m1, 2)"
    assert alert.annotations["comparison"] == "LessThanLowerOrGreaterThanUpperThreshold"


def test_composite_alarm_targets_the_alarm_itself() -> None:
    [alert] = parse("cloudwatch", "cloudwatch_sns__composite_ALARM.json").alerts
    assert alert.metric is None
    assert alert.resource.type == "cloudwatch:alarm"
    assert alert.resource.id == "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-degraded"
    assert alert.annotations["alarm_rule"] == "ALARM(checkout-cpu-high) AND ALARM(checkout-5xx)"


@pytest.mark.parametrize(
    ("options", "status", "severity"),
    [
        pytest.param(ParseOptions(), AlertStatus.FIRING, Severity.WARNING, id="default"),
        pytest.param(
            ParseOptions(insufficient_data_status="resolved"),
            AlertStatus.RESOLVED,
            Severity.UNKNOWN,
            id="as-resolved",
        ),
        pytest.param(
            ParseOptions(insufficient_data_severity=Severity.INFO),
            AlertStatus.FIRING,
            Severity.INFO,
            id="as-info",
        ),
    ],
)
def test_insufficient_data_follows_options(
    options: ParseOptions, status: AlertStatus, severity: Severity
) -> None:
    [alert] = parse(
        "cloudwatch", "cloudwatch_sns__single_metric_INSUFFICIENT_DATA.json", options=options
    ).alerts
    assert (alert.status, alert.severity) == (status, severity)


def test_subscription_confirmation() -> None:
    delivery = parse("cloudwatch", "aws_sns_https__subscription_confirmation_awsdocs.json")
    assert delivery.kind is DeliveryKind.SUBSCRIPTION_CONFIRMATION
    assert delivery.alerts == []
    assert delivery.subscribe_url == (
        "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&"
        "TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37..."
    )
    assert delivery.topic_arn == "arn:aws:sns:us-west-2:123456789012:MyTopic"
    assert delivery.idempotency_key == "sns:165545c9-2a5c-472c-8df2-7ff2be2b3b1b"


def test_unsubscribe_confirmation() -> None:
    delivery = parse("cloudwatch", "aws_sns_https__unsubscribe_confirmation_awsdocs.json")
    assert delivery.kind is DeliveryKind.UNSUBSCRIBE_CONFIRMATION
    assert delivery.alerts == []
    assert delivery.topic_arn == "arn:aws:sns:us-west-2:123456789012:MyTopic"


def test_raw_message_delivery() -> None:
    body = raw("cloudwatch_raw__glue_job_metric_ALARM.json")
    [alert] = parse("cloudwatch", body).alerts
    assert (alert.resource.type, alert.resource.id) == ("glue:job", "nightly-etl")
    key_without_header = parse("cloudwatch", body).idempotency_key
    assert key_without_header is not None
    assert key_without_header == parse("cloudwatch", body).idempotency_key
    headers = {"x-amz-sns-message-id": "d1e2f3a4-b5c6-5d7e-8f90-a1b2c3d4e5f6"}
    assert (
        parse("cloudwatch", body, headers=headers).idempotency_key
        == "sns:d1e2f3a4-b5c6-5d7e-8f90-a1b2c3d4e5f6"
    )


def test_redelivery_keeps_the_message_id_key() -> None:
    retry = doc(ECS_ALARM)
    retry["Timestamp"] = "2024-03-05T10:16:22.000Z"  # SNS retries keep MessageId
    assert parse("cloudwatch", retry).idempotency_key == parse("cloudwatch", ECS_ALARM).idempotency_key
    assert parse("cloudwatch", ECS_OK).idempotency_key != parse("cloudwatch", ECS_ALARM).idempotency_key


def test_eventbridge_event_inside_an_sns_message() -> None:
    event = doc("aws_eventbridge__glue_job_state_change_FAILED_awsdocs.json")
    envelope = doc(ECS_ALARM)
    envelope["Message"] = json.dumps(event)
    delivery = parse("cloudwatch", envelope)
    [alert] = delivery.alerts
    assert (alert.source, alert.resource.type, alert.resource.id) == ("cloudwatch", "glue:job", "MyJob")
    assert delivery.idempotency_key == "sns:f6a5b8c4-31f2-5f0e-9a4c-1d2e3f4a5b6c"


def _with_message(message: Any) -> dict[str, Any]:
    envelope: dict[str, Any] = doc(ECS_ALARM)
    envelope["Message"] = message if isinstance(message, str) else json.dumps(message)
    return envelope


def _alarm(**changes: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(doc(ECS_ALARM)["Message"])
    message.update(changes)
    return message


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            _with_message(_alarm(NewStateValue="BROKEN")),
            "Message.NewStateValue: expected ALARM, OK or INSUFFICIENT_DATA, got 'BROKEN'",
            id="state",
        ),
        pytest.param(
            _with_message(_alarm(NewStateValue=None)), "Message.NewStateValue: required", id="no-state"
        ),
        pytest.param(_with_message(_alarm(AlarmName="")), "Message.AlarmName: required", id="no-name"),
        pytest.param(
            {**doc(ECS_ALARM), "Type": "Bogus"}, "Type: unsupported SNS message type 'Bogus'", id="type"
        ),
        pytest.param({"hello": "world"}, "body: neither an SNS message", id="neither"),
        pytest.param({**doc(ECS_ALARM), "MessageId": None}, "MessageId: required", id="message-id"),
    ],
)
def test_malformed(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse("cloudwatch", body)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("body", "event_type"),
    [
        pytest.param(doc("aws_sns_https__notification_awsdocs.json"), "sns text message", id="hello-world"),
        pytest.param(_with_message({"foo": 1}), "sns json message", id="not-alarm"),
        pytest.param(_with_message([1, 2]), "sns json message", id="array"),
        pytest.param(
            _with_message({"Event": "autoscaling:EC2_INSTANCE_LAUNCH", "AutoScalingGroupName": "web"}),
            "autoscaling:EC2_INSTANCE_LAUNCH",
            id="auto-scaling",
        ),
        pytest.param(
            _with_message({"detail-type": "Object Created", "source": "aws.s3", "detail": {}}),
            "aws.s3: Object Created",
            id="eventbridge-event",
        ),
    ],
)
def test_other_messages_on_the_topic_are_unsupported_not_refused(
    body: dict[str, Any], event_type: str
) -> None:
    delivery = parse("cloudwatch", body)
    assert (delivery.kind, delivery.unsupported_type, delivery.alerts) == (
        DeliveryKind.UNSUPPORTED,
        event_type,
        [],
    )
    assert delivery.idempotency_key == f"sns:{body['MessageId']}"
    assert delivery.topic_arn == body["TopicArn"]


def test_a_malformed_trigger_is_emptied_and_the_alarm_still_fires() -> None:
    delivery = parse("cloudwatch", _with_message(_alarm(Trigger=[])))
    [alert] = delivery.alerts
    sound = parse("cloudwatch", ECS_ALARM).alerts[0]
    assert (alert.name, alert.status, alert.fingerprint) == (sound.name, sound.status, sound.fingerprint)
    assert alert.metric is None and alert.resource.type == "cloudwatch:alarm"
    assert [(w.path, w.reason) for w in delivery.warnings] == [
        ("Message.Trigger", "Message.Trigger: expected an object, got an array")
    ]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        pytest.param("EU (Ireland)", "eu-west-1", id="eu-parens"),
        pytest.param("EU - Ireland", "eu-west-1", id="eu-dash"),
        pytest.param("Europe (Frankfurt)", "eu-central-1", id="europe"),
        pytest.param("US East (N. Virginia)", "us-east-1", id="virginia"),
        pytest.param("US East - N. Virginia", "us-east-1", id="virginia-dash"),
        pytest.param("US West (Oregon)", "us-west-2", id="oregon"),
        pytest.param("Asia Pacific (Tokyo)", "ap-northeast-1", id="tokyo"),
        pytest.param("South America (São Paulo)", "sa-east-1", id="sao-paulo-accent"),
        pytest.param("AWS GovCloud (US-West)", "us-gov-west-1", id="govcloud"),
        pytest.param("eu-west-3", "eu-west-3", id="already-a-code"),
        pytest.param("Atlantis (Central)", None, id="unknown"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_region_display_names(name: str | None, code: str | None) -> None:
    assert region_code(name) == code


def test_provider_is_aws() -> None:
    assert parse("cloudwatch", ECS_ALARM).alerts[0].resource.provider is Provider.AWS
