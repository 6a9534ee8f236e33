"""AWS resources as runbook targets, read from CloudWatch dimensions and event fields.

Resource ids are what the runbooks take as targets: ECS services are ``CLUSTER/SERVICE``,
Auto Scaling groups, EC2 instances, load balancers and Glue jobs their plain names or ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from bot.alerts.normalized import Provider, Resource
from integrations.common.payload import stable_hash

# (dimension, resource type) in order of preference, for alarms whose metric has one of them.
_SINGLE_DIMENSION_RESOURCES: tuple[tuple[str, str], ...] = (
    ("AutoScalingGroupName", "autoscaling:group"),
    ("InstanceId", "ec2:instance"),
    ("LoadBalancer", "elb:loadbalancer"),
    ("LoadBalancerName", "elb:loadbalancer"),
    ("JobName", "glue:job"),
    ("DBInstanceIdentifier", "rds:db-instance"),
    ("DBClusterIdentifier", "rds:cluster"),
    ("FunctionName", "lambda:function"),
    ("QueueName", "sqs:queue"),
    ("TableName", "dynamodb:table"),
    ("TopicName", "sns:topic"),
    ("StateMachineArn", "states:state-machine"),
)
_ECS_NAMESPACES = {"AWS/ECS", "ECS/ContainerInsights"}


def ecs_service_resource(cluster: str, service: str, *, account: str | None, region: str | None) -> Resource:
    return Resource(
        provider=Provider.AWS,
        account=account,
        region=region,
        type="ecs:service",
        id=f"{cluster}/{service}",
        name=service,
    )


def _display_name(dimension: str, value: str) -> str:
    if dimension == "LoadBalancer":
        # "app/my-alb/50dc6c495c0c9188" → "my-alb"
        parts = value.split("/")
        return parts[1] if len(parts) >= 3 else value
    if value.startswith("arn:"):
        return value.rsplit(":", 1)[-1]
    return value


def resource_from_dimensions(
    dimensions: Mapping[str, str],
    *,
    namespace: str | None,
    account: str | None,
    region: str | None,
) -> Resource | None:
    """The resource an alarm's dimensions point at, or None when they name nothing we know."""
    cluster = dimensions.get("ClusterName")
    service = dimensions.get("ServiceName")
    if cluster and service:
        return ecs_service_resource(cluster, service, account=account, region=region)
    for dimension, kind in _SINGLE_DIMENSION_RESOURCES:
        value = dimensions.get(dimension)
        if value:
            return Resource(
                provider=Provider.AWS,
                account=account,
                region=region,
                type=kind,
                id=value,
                name=_display_name(dimension, value),
            )
    if cluster and namespace in _ECS_NAMESPACES:
        return Resource(
            provider=Provider.AWS,
            account=account,
            region=region,
            type="ecs:cluster",
            id=cluster,
            name=cluster,
        )
    return None


def alarm_resource(name: str, arn: str | None, *, account: str | None, region: str | None) -> Resource:
    """The alarm itself, for alarms (composite, metric math over many resources) with no target."""
    return Resource(
        provider=Provider.AWS,
        account=account,
        region=region,
        type="cloudwatch:alarm",
        id=arn or name,
        name=name,
    )


def alarm_fingerprint(account: str | None, region: str | None, name: str) -> str:
    """The same alarm has the same fingerprint whether it came over SNS or EventBridge."""
    return stable_hash("cloudwatch-alarm", account or "", region or "", name)


def alarm_console_link(region: str | None, name: str) -> str | None:
    if not region:
        return None
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{quote(name, safe='')}"
    )


def resource_from_arn(arn: str, *, account: str | None = None, region: str | None = None) -> Resource | None:
    """The runbook-target form of an ARN (``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``), or
    None when `arn` is not one. ECS services and tasks keep their cluster (``CLUSTER/NAME``),
    Auto Scaling groups, Glue jobs and EC2 instances their plain names; anything else is typed
    ``SERVICE:KIND`` with the rest of the resource part as its id."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    service, arn_region, arn_account, rest = parts[2], parts[3], parts[4], parts[5]
    account, region = arn_account or account, arn_region or region
    kind, separator, resource_id = rest.partition("/")
    if not separator:
        kind, separator, resource_id = rest.partition(":")
    if service == "ecs" and kind == "service" and resource_id.count("/") == 1:
        cluster, name = resource_id.split("/")
        return ecs_service_resource(cluster, name, account=account, region=region)
    if service == "autoscaling" and "autoScalingGroupName/" in rest:
        kind, resource_id = "group", rest.split("autoScalingGroupName/", 1)[1]
    identifier = resource_id.lstrip("/") if separator else rest
    return Resource(
        provider=Provider.AWS,
        account=account or None,
        region=region or None,
        type=f"{service}:{kind}" if separator and kind else service,
        id=identifier,
        name=identifier.rsplit("/", 1)[-1],
    )
