"""The typed AWS clients: real boto3 against moto (and a recording fake for error replies)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from pydantic import ValidationError

from bot.runbook_kit.services import ServiceRegistry
from integrations.aws.clients import (
    AutoScalingClient,
    CloudWatchClient,
    Ec2Client,
    EcsClient,
    GlueClient,
    register_aws_services,
)
from integrations.aws.session import AwsError, AwsSession
from integrations.aws.settings import AwsGuards, AwsSettings
from tests.fakes.http_server import FakeService, RecordedRequest, Reply
from tests.fakes.moto_server import MotoServer

FAST = AwsSettings(max_attempts=1, connect_timeout=1, read_timeout=5)
AMI = "ami-0123456789abcdef0"  # moto does not check AMIs


@pytest.fixture
def aws(moto: MotoServer) -> AwsSession:
    return AwsSession(FAST)


# --- settings and session ---------------------------------------------------------------------


def test_settings_defaults_and_validation() -> None:
    settings = AwsSettings()
    assert (settings.region, settings.endpoint_url, settings.metric_namespace) == (
        None,
        None,
        "CloudConductor",
    )
    assert (settings.guards.ecs_min, settings.guards.ecs_max) == (1, 20)
    with pytest.raises(ValidationError):
        AwsSettings.model_validate({"regoin": "eu-west-1"})
    with pytest.raises(ValidationError, match="asg_min"):
        AwsGuards(asg_min=5, asg_max=2)


def test_region_comes_from_settings_else_the_environment(moto: MotoServer) -> None:
    assert AwsSession(FAST).glue().meta.region_name == "us-east-1"  # AWS_DEFAULT_REGION
    pinned = AwsSession(FAST.model_copy(update={"region": "eu-west-1"}))
    assert pinned.region == "eu-west-1"
    assert pinned.ecs().meta.region_name == "eu-west-1"


def test_endpoint_comes_from_aws_endpoint_url_unless_settings_name_one(moto: MotoServer) -> None:
    assert AwsSession(FAST).ec2().meta.endpoint_url == moto.url
    other = AwsSession(FAST.model_copy(update={"endpoint_url": "http://127.0.0.1:9"}))
    assert other.ec2().meta.endpoint_url == "http://127.0.0.1:9"


def test_botocore_retries_follow_settings(moto: MotoServer) -> None:
    client = AwsSession(AwsSettings(max_attempts=4)).cloudwatch()
    # botocore's own "max_attempts" excludes the first try; ours (total_max_attempts) includes it.
    assert client.meta.config.retries == {"total_max_attempts": 4, "mode": "standard"}  # type: ignore[attr-defined]


def test_no_region_anywhere_is_a_clear_non_retryable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    with pytest.raises(AwsError) as info:
        AwsSession(FAST).glue()
    assert (info.value.retryable, info.value.code, info.value.operation) == (
        False,
        "NoRegionError",
        "CreateClient",
    )


# --- error mapping: real boto3 against a fake that answers with AWS error replies ---------------


@dataclass
class ErrorEndpoint:
    """A fake AWS endpoint (recording every request) that answers with `reply`."""

    service: FakeService
    reply: Reply = field(default_factory=lambda: Reply(200, {}))


@pytest.fixture
def glue_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[ErrorEndpoint]:
    endpoint = ErrorEndpoint(FakeService())

    @endpoint.service.route("POST", "/")
    def answer(req: RecordedRequest, match: object) -> Reply:
        return endpoint.reply

    endpoint.service.start()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.service.url)
    yield endpoint
    endpoint.service.stop()


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        pytest.param(400, "ThrottlingException", True, id="throttling"),
        pytest.param(400, "RequestLimitExceeded", True, id="ec2-style-throttling"),
        pytest.param(429, "TooManyRequests", True, id="http-429"),
        pytest.param(500, "InternalServiceException", True, id="server-error"),
        pytest.param(503, "ServiceUnavailable", True, id="unavailable"),
        pytest.param(400, "ValidationException", False, id="validation"),
        pytest.param(400, "EntityNotFoundException", False, id="not-found"),
        pytest.param(400, "AccessDeniedException", False, id="access-denied"),
        pytest.param(400, "ConcurrentRunsExceededException", False, id="concurrent-runs"),
    ],
)
def test_aws_error_replies_map_to_integration_errors(
    glue_errors: ErrorEndpoint, status: int, code: str, retryable: bool
) -> None:
    glue_errors.reply = Reply(status, {"__type": code, "message": "nope"})

    with pytest.raises(AwsError) as info:
        GlueClient(AwsSession(FAST)).job_runs("etl")

    error = info.value
    assert (error.code, error.status, error.retryable) == (code, status, retryable)
    assert (error.system, error.operation) == ("aws.glue", "GetJobRuns")
    assert str(error) == f"aws.glue GetJobRuns failed: {code}: nope"
    (request,) = glue_errors.service.calls("POST")  # max_attempts=1: botocore did not retry
    assert request.headers["x-amz-target"] == "AWSGlue.GetJobRuns"
    assert request.json() == {"JobName": "etl", "MaxResults": 10}


def test_unreachable_endpoint_is_retryable(monkeypatch: pytest.MonkeyPatch, moto: MotoServer) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(AwsError) as info:
        EcsClient(AwsSession(FAST)).describe_service("prod", "web")
    assert (info.value.retryable, info.value.code, info.value.operation) == (True, "", "DescribeServices")


# --- the typed wrappers against moto ----------------------------------------------------------


def test_glue_runs_newest_first_and_get_run(aws: AwsSession) -> None:
    boto3.client("glue").create_job(
        Name="etl",
        Role="r",
        Command={"Name": "glueetl", "ScriptLocation": "s3://b/etl.py"},
        DefaultArguments={"--a": "1"},
    )
    glue = GlueClient(aws)
    first = glue.start_job_run("etl", arguments={"--day": "1"})
    second = glue.start_job_run("etl", arguments={"--day": "2"})

    runs = glue.job_runs("etl")

    # moto answers oldest first (Glue: newest first); the client always sorts newest first.
    raw = boto3.client("glue").get_job_runs(JobName="etl")["JobRuns"]
    assert [r["Id"] for r in raw] == [first, second]
    started = [r.started_on for r in runs]
    assert started == sorted(started, reverse=True)  # type: ignore[type-var]
    assert {r.id for r in runs} == {first, second}
    run = glue.get_job_run("etl", second)
    assert (run.state, run.arguments, run.is_running, run.is_restartable) == (
        "SUCCEEDED",
        {"--a": "1", "--day": "2"},  # moto merges the job's DefaultArguments in
        False,
        False,
    )
    assert run.started_on is not None
    assert run.started_on.tzinfo is UTC


def test_ecs_describe_and_update(aws: AwsSession) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": "web", "memory": 128}]
    )
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=1)
    client = EcsClient(aws)

    before = client.describe_service("prod", "web")
    after = client.update_desired_count("prod", "web", 3)

    assert (before.name, before.desired_count, before.status) == ("web", 1, "ACTIVE")
    assert (after.desired_count, after.running_count) == (3, 3)  # moto runs tasks at once
    with pytest.raises(AwsError) as missing:
        client.describe_service("prod", "nope")
    assert (missing.value.code, missing.value.retryable) == ("ServiceNotFoundException", False)
    with pytest.raises(AwsError) as no_cluster:
        client.describe_service("nope", "web")
    assert (no_cluster.value.code, no_cluster.value.retryable) == ("ClusterNotFoundException", False)


def test_autoscaling_describe_and_set(aws: AwsSession, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    boto3.client("ec2").create_launch_template(
        LaunchTemplateName="tmpl", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"}
    )
    boto3.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="asg",
        MinSize=1,
        MaxSize=5,
        DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateName": "tmpl"},
        AvailabilityZones=["us-east-1a"],
    )
    client = AutoScalingClient(aws)

    group = client.set_desired_capacity("asg", 3)

    assert (group.min_size, group.max_size, group.desired_capacity) == (1, 5, 3)
    assert (group.instance_count, group.in_service_count) == (3, 3)
    with pytest.raises(AwsError) as missing:
        client.describe_group("nope")
    assert (missing.value.code, missing.value.retryable) == ("NotFound", False)


def test_ec2_describe_status_tag_and_reboot(aws: AwsSession, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    created = boto3.client("ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.nano")
    instance_id = created["Instances"][0]["InstanceId"]
    client = Ec2Client(aws)

    client.set_tag(instance_id, "owner", "team-a")
    client.reboot(instance_id)
    instance = client.describe_instance(instance_id)
    status = client.instance_status(instance_id)

    assert (instance.state, instance.instance_type, instance.tags) == (
        "running",
        "t3.nano",
        {"owner": "team-a"},
    )
    assert (status.state, status.checks_ok) == ("running", True)
    with pytest.raises(AwsError) as missing:
        client.describe_instance("i-0123456789abcdef0")
    assert (missing.value.code, missing.value.retryable) == ("InvalidInstanceID.NotFound", False)


def test_remediation_metric_lands_in_the_namespace(aws: AwsSession) -> None:
    now = datetime.now(UTC)
    CloudWatchClient(aws).put_remediation_metric(
        "JobRemediation", dimensions={"JobName": "etl"}, timestamp=now
    )

    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="CloudConductor",
        MetricName="JobRemediation",
        Dimensions=[{"Name": "JobName", "Value": "etl"}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["Sum"],
    )
    assert [(p["Sum"], p["Unit"]) for p in stats["Datapoints"]] == [(1.0, "Count")]


def test_register_aws_services_provides_every_client(moto: MotoServer) -> None:
    registry = ServiceRegistry()
    register_aws_services(registry, FAST)

    assert registry.get(AwsSettings) is FAST
    for kind in (GlueClient, EcsClient, AutoScalingClient, Ec2Client, CloudWatchClient):
        assert isinstance(registry.get(kind), kind)
    assert registry.get(CloudWatchClient).namespace == "CloudConductor"
