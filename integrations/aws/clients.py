"""Typed AWS clients for the runbooks: small methods that return small dataclasses.

Runbooks ask for them with `ctx.services.get(GlueClient)`; `register_aws_services` wires them
(and `AwsSettings`, for the scaling guards) into a `ServiceRegistry`. Every call goes through
`aws_errors`, so callers only ever see `AwsError` (an `IntegrationError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.runbook_kit.services import ServiceRegistry
from integrations.aws.messaging import SnsClient, SqsClient
from integrations.aws.session import AwsError, AwsSession, aws_errors
from integrations.aws.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef

GLUE_RUNNING_STATES = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
GLUE_RESTARTABLE_STATES = frozenset({"FAILED", "TIMEOUT", "STOPPED"})
GLUE_FAILED_STATES = frozenset({"FAILED", "TIMEOUT", "STOPPED", "ERROR", "EXPIRED"})


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _not_found(system: str, operation: str, code: str, what: str) -> AwsError:
    return AwsError(
        f"{system} {operation}: {what}", retryable=False, system=system, operation=operation, code=code
    )


# --- Glue -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GlueJobRun:
    id: str
    job_name: str
    state: str
    started_on: datetime | None = None
    completed_on: datetime | None = None
    arguments: dict[str, str] = field(default_factory=dict)
    error_message: str = ""
    attempt: int = 0

    @property
    def is_running(self) -> bool:
        return self.state in GLUE_RUNNING_STATES

    @property
    def is_restartable(self) -> bool:
        """FAILED, TIMEOUT or STOPPED: the states a restart is meant for."""
        return self.state in GLUE_RESTARTABLE_STATES


class GlueClient:
    system = "aws.glue"

    def __init__(self, session: AwsSession) -> None:
        self._client = session.glue()

    def job_runs(self, job: str, *, max_results: int = 10) -> list[GlueJobRun]:
        """The job's most recent runs, newest first.

        Glue returns newest first; moto returns oldest first, so the runs are sorted here.
        """
        with aws_errors(self.system, "GetJobRuns"):
            reply = self._client.get_job_runs(JobName=job, MaxResults=max_results)
        runs = [_glue_run(raw, job) for raw in reply.get("JobRuns", [])]
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(runs, key=lambda r: r.started_on or epoch, reverse=True)

    def get_job_run(self, job: str, run_id: str) -> GlueJobRun:
        with aws_errors(self.system, "GetJobRun"):
            reply = self._client.get_job_run(JobName=job, RunId=run_id)
        return _glue_run(reply["JobRun"], job)

    def start_job_run(self, job: str, *, arguments: Mapping[str, str] | None = None) -> str:
        """Start a run and return its id. `arguments` replace the job's defaults for this run."""
        with aws_errors(self.system, "StartJobRun"):
            reply = self._client.start_job_run(JobName=job, Arguments=dict(arguments or {}))
        return reply["JobRunId"]


def _glue_run(raw: Mapping[str, object], job: str) -> GlueJobRun:
    started = raw.get("StartedOn")
    completed = raw.get("CompletedOn")
    arguments = raw.get("Arguments")
    attempt = raw.get("Attempt")
    return GlueJobRun(
        id=str(raw.get("Id", "")),
        job_name=str(raw.get("JobName") or job),
        state=str(raw.get("JobRunState", "")),
        started_on=_utc(started) if isinstance(started, datetime) else None,
        completed_on=_utc(completed) if isinstance(completed, datetime) else None,
        arguments={str(k): str(v) for k, v in arguments.items()} if isinstance(arguments, dict) else {},
        error_message=str(raw.get("ErrorMessage") or ""),
        attempt=attempt if isinstance(attempt, int) else 0,
    )


# --- ECS --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EcsService:
    cluster: str
    name: str
    arn: str
    status: str
    desired_count: int
    running_count: int
    pending_count: int


class EcsClient:
    system = "aws.ecs"

    def __init__(self, session: AwsSession) -> None:
        self._client = session.ecs()

    def describe_service(self, cluster: str, service: str) -> EcsService:
        with aws_errors(self.system, "DescribeServices"):
            reply = self._client.describe_services(cluster=cluster, services=[service])
        found = reply.get("services", [])
        if not found:
            reason = next((f.get("reason", "") for f in reply.get("failures", [])), "MISSING")
            raise _not_found(
                self.system,
                "DescribeServices",
                "ServiceNotFoundException",
                f"service {service!r} not found in cluster {cluster!r} ({reason})",
            )
        raw = found[0]
        return EcsService(
            cluster=cluster,
            name=raw.get("serviceName", service),
            arn=raw.get("serviceArn", ""),
            status=raw.get("status", ""),
            desired_count=raw.get("desiredCount", 0),
            running_count=raw.get("runningCount", 0),
            pending_count=raw.get("pendingCount", 0),
        )

    def update_desired_count(self, cluster: str, service: str, desired_count: int) -> EcsService:
        """Set the service's desiredCount; returns the service as ECS reports it afterwards."""
        with aws_errors(self.system, "UpdateService"):
            self._client.update_service(cluster=cluster, service=service, desiredCount=desired_count)
        return self.describe_service(cluster, service)


# --- Auto Scaling -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AutoScalingGroup:
    name: str
    min_size: int
    max_size: int
    desired_capacity: int
    instance_count: int  # every instance in the group, whatever its lifecycle state
    in_service_count: int  # InService and Healthy


class AutoScalingClient:
    system = "aws.autoscaling"

    def __init__(self, session: AwsSession) -> None:
        self._client = session.autoscaling()

    def describe_group(self, name: str) -> AutoScalingGroup:
        with aws_errors(self.system, "DescribeAutoScalingGroups"):
            reply = self._client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        groups = reply.get("AutoScalingGroups", [])
        if not groups:
            raise _not_found(
                self.system, "DescribeAutoScalingGroups", "NotFound", f"group {name!r} not found"
            )
        raw = groups[0]
        instances = raw.get("Instances", [])
        return AutoScalingGroup(
            name=raw["AutoScalingGroupName"],
            min_size=raw["MinSize"],
            max_size=raw["MaxSize"],
            desired_capacity=raw["DesiredCapacity"],
            instance_count=len(instances),
            in_service_count=sum(
                1
                for i in instances
                if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy"
            ),
        )

    def set_desired_capacity(self, name: str, capacity: int) -> AutoScalingGroup:
        """Set DesiredCapacity (ignoring the group's cooldown: this is a deliberate action)."""
        with aws_errors(self.system, "SetDesiredCapacity"):
            self._client.set_desired_capacity(
                AutoScalingGroupName=name, DesiredCapacity=capacity, HonorCooldown=False
            )
        return self.describe_group(name)


# --- EC2 --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ec2Instance:
    id: str
    state: str  # pending | running | stopping | stopped | shutting-down | terminated
    instance_type: str = ""
    launch_time: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ec2InstanceStatus:
    """The two EC2 status checks: ok | impaired | initializing | insufficient-data | not-applicable."""

    instance_id: str
    state: str
    system_status: str
    instance_status: str

    @property
    def checks_ok(self) -> bool:
        return self.system_status == "ok" and self.instance_status == "ok"


class Ec2Client:
    system = "aws.ec2"

    def __init__(self, session: AwsSession) -> None:
        self._client = session.ec2()
        # RebootInstances is sent once: a timed-out request may still have rebooted the instance.
        self._once = session.ec2(max_attempts=1)

    def describe_instance(self, instance_id: str) -> Ec2Instance:
        with aws_errors(self.system, "DescribeInstances"):
            reply = self._client.describe_instances(InstanceIds=[instance_id])
        for reservation in reply.get("Reservations", []):
            for raw in reservation.get("Instances", []):
                return Ec2Instance(
                    id=raw.get("InstanceId", instance_id),
                    state=raw.get("State", {}).get("Name", ""),
                    instance_type=raw.get("InstanceType", ""),
                    launch_time=_utc(raw.get("LaunchTime")),
                    tags={t["Key"]: t["Value"] for t in raw.get("Tags", []) if "Key" in t and "Value" in t},
                )
        raise _not_found(
            self.system,
            "DescribeInstances",
            "InvalidInstanceID.NotFound",
            f"instance {instance_id!r} not found",
        )

    def instance_status(self, instance_id: str) -> Ec2InstanceStatus:
        """Status checks of a running instance ("not-applicable" when it is not running)."""
        with aws_errors(self.system, "DescribeInstanceStatus"):
            reply = self._client.describe_instance_status(InstanceIds=[instance_id], IncludeAllInstances=True)
        for raw in reply.get("InstanceStatuses", []):
            return Ec2InstanceStatus(
                instance_id=instance_id,
                state=raw.get("InstanceState", {}).get("Name", ""),
                system_status=raw.get("SystemStatus", {}).get("Status", "not-applicable"),
                instance_status=raw.get("InstanceStatus", {}).get("Status", "not-applicable"),
            )
        raise _not_found(
            self.system,
            "DescribeInstanceStatus",
            "InvalidInstanceID.NotFound",
            f"instance {instance_id!r} not found",
        )

    def reboot(self, instance_id: str) -> None:
        """Ask EC2 to reboot the instance (asynchronous: it returns before the reboot happens).
        Never retried, by botocore or anyone: a lost answer may hide a reboot that happened."""
        with aws_errors(self.system, "RebootInstances"):
            self._once.reboot_instances(InstanceIds=[instance_id])

    def set_tag(self, instance_id: str, key: str, value: str) -> None:
        with aws_errors(self.system, "CreateTags"):
            self._client.create_tags(Resources=[instance_id], Tags=[{"Key": key, "Value": value}])


# --- CloudWatch -------------------------------------------------------------------------------


class CloudWatchClient:
    """Writes the bot's own remediation metrics (reading metrics is `cloudwatch_metrics`' job)."""

    system = "aws.cloudwatch"

    def __init__(self, session: AwsSession) -> None:
        self._client = session.cloudwatch()
        self.namespace = session.settings.metric_namespace

    def put_remediation_metric(
        self,
        metric_name: str,
        *,
        dimensions: Mapping[str, str],
        value: float = 1.0,
        timestamp: datetime | None = None,
    ) -> None:
        """Put one Count datapoint, e.g. `JobRemediation` {JobName: nightly-etl} = 1."""
        datum: MetricDatumTypeDef = {
            "MetricName": metric_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())],
            "Value": value,
            "Unit": "Count",
        }
        if timestamp is not None:
            datum["Timestamp"] = timestamp
        with aws_errors(self.system, "PutMetricData"):
            self._client.put_metric_data(Namespace=self.namespace, MetricData=[datum])


# --- wiring -----------------------------------------------------------------------------------


def register_aws_services(
    registry: ServiceRegistry, settings: AwsSettings, *, session: AwsSession | None = None
) -> AwsSession:
    """Provide `AwsSettings` and every AWS client to the runbooks; clients are built on first use."""
    aws = session or AwsSession(settings)
    registry.put(AwsSettings, settings)
    registry.put(AwsSession, aws)  # user runbooks: `ctx.services.get(AwsSession).client("sqs")`
    registry.provide(GlueClient, lambda: GlueClient(aws))
    registry.provide(EcsClient, lambda: EcsClient(aws))
    registry.provide(AutoScalingClient, lambda: AutoScalingClient(aws))
    registry.provide(Ec2Client, lambda: Ec2Client(aws))
    registry.provide(CloudWatchClient, lambda: CloudWatchClient(aws))
    registry.provide(SqsClient, lambda: SqsClient(aws))
    registry.provide(SnsClient, lambda: SnsClient(aws))
    return aws
