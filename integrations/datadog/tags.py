"""Datadog tags (``key:value, key2:value2``) and the resource they describe."""

from __future__ import annotations

from collections.abc import Mapping

from bot.alerts.normalized import Provider, Resource
from integrations.aws.resources import ecs_service_resource
from integrations.azure.arm import resource_from_arm_id

_K8S_WORKLOADS = (
    ("kube_deployment", "k8s:deployment"),
    ("kube_stateful_set", "k8s:statefulset"),
    ("kube_daemon_set", "k8s:daemonset"),
    ("kube_cronjob", "k8s:cronjob"),
    ("kube_job", "k8s:job"),
    ("pod_name", "k8s:pod"),
)


def parse_tags(raw: str | None) -> dict[str, str]:
    """``"env:prod, role:db,host:i-1"`` → {"env": "prod", "role": "db", "host": "i-1"}.

    Tags without a value (``"critical"``) are kept with an empty value; ``*`` (no scope) is dropped.
    """
    tags: dict[str, str] = {}
    if not raw:
        return tags
    for item in raw.split(","):
        tag = item.strip()
        if not tag or tag == "*":
            continue
        key, _, value = tag.partition(":")
        tags[key.strip()] = value.strip()
    return tags


def _aws_provider(tags: Mapping[str, str]) -> bool:
    return bool(tags.get("aws_account") or tags.get("instance-id") or tags.get("availability-zone"))


def resource_from_tags(tags: Mapping[str, str], *, hostname: str | None) -> Resource:
    namespace = tags.get("kube_namespace")
    if namespace:
        for tag, kind in _K8S_WORKLOADS:
            name = tags.get(tag)
            if name:
                return Resource(
                    provider=Provider.KUBERNETES,
                    account=tags.get("kube_cluster_name") or None,
                    type=kind,
                    id=f"{namespace}/{name}",
                    name=name,
                )
        return Resource(
            provider=Provider.KUBERNETES,
            account=tags.get("kube_cluster_name") or None,
            type="k8s:namespace",
            id=namespace,
            name=namespace,
        )
    account = tags.get("aws_account") or None
    region = tags.get("region") or None
    cluster, service = tags.get("ecs_cluster_name"), tags.get("ecs_service")
    if cluster and service:
        return ecs_service_resource(cluster, service, account=account, region=region)
    group = tags.get("autoscaling_group") or tags.get("autoscaling_group_name")
    if group:
        return Resource(
            provider=Provider.AWS,
            account=account,
            region=region,
            type="autoscaling:group",
            id=group,
            name=group,
        )
    arm = resource_from_arm_id(tags.get("resource_id"))
    if arm is not None:
        return arm
    host = tags.get("host") or hostname
    instance = tags.get("instance-id") or (host if host and host.startswith("i-") else None)
    if instance:
        return Resource(
            provider=Provider.AWS,
            account=account,
            region=region,
            type="ec2:instance",
            id=instance,
            name=tags.get("name") or instance,
        )
    if tags.get("subscription_id"):
        provider, account = Provider.AZURE, tags["subscription_id"]
    elif tags.get("project_id"):
        provider, account = Provider.GCP, tags["project_id"]
    elif _aws_provider(tags):
        provider = Provider.AWS
    else:
        provider = Provider.OTHER
    if host:
        return Resource(provider=provider, account=account, region=region, type="host", id=host, name=host)
    service_tag = tags.get("service")
    if service_tag:
        return Resource(
            provider=provider,
            account=account,
            region=region,
            type="service",
            id=service_tag,
            name=service_tag,
        )
    return Resource(provider=provider, account=account, region=region)
