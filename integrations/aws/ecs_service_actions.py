"""ECS Service Action events from EventBridge, as alerts on the service the ECS runbooks act on.

Decisions:

- A ``WARN`` or ``ERROR`` event (``SERVICE_TASK_PLACEMENT_FAILURE``: the service cannot place
  the tasks it wants, so it cannot scale; ``SERVICE_TASK_START_IMPAIRED``, throttling, unhealthy
  service-discovery or VPC Lattice targets, ...) fires, severity from the event type (warning or
  error). The documented problem events fire even when a sender marks them ``INFO``, at their
  documented severity. One alert per service and event name: ``EcsServiceTaskPlacementFailure``.
- ``SERVICE_STEADY_STATE`` ("healthy and at the desired number of tasks") resolves every
  documented problem event of that service.
- ``SERVICE_DEPLOYMENT_*`` events read as ECS Deployment State Change (same alert).
- Other ``INFO`` events (task set and capacity provider steady state, desired count updated,
  tasks stopped, rebalancing): no alert.
- Resource: ``ecs:service`` with id ``CLUSTER/SERVICE`` from the service ARN in ``resources``
  (the cluster from ``clusterArn`` for the old ARN format); ``ecs:cluster`` when the event names
  no service.
"""

from __future__ import annotations

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource, Severity
from integrations.aws.resources import ecs_service_resource
from integrations.aws.service_events import (
    EventContext,
    cluster_name,
    ecs_deployment_alerts,
    service_from_arn,
)
from integrations.common.payload import (
    JsonObject,
    get_list,
    get_str,
    get_time,
    require_str,
    stable_hash,
    text,
)

# The problem events ECS documents, with their documented event type.
PROBLEMS: dict[str, Severity] = {
    "SERVICE_TASK_START_IMPAIRED": Severity.WARNING,
    "SERVICE_DISCOVERY_INSTANCE_UNHEALTHY": Severity.WARNING,
    "VPC_LATTICE_TARGET_UNHEALTHY": Severity.WARNING,
    "SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED": Severity.ERROR,
    "ECS_OPERATION_THROTTLED": Severity.ERROR,
    "SERVICE_DISCOVERY_OPERATION_THROTTLED": Severity.ERROR,
    "SERVICE_TASK_PLACEMENT_FAILURE": Severity.ERROR,
    "SERVICE_TASK_CONFIGURATION_FAILURE": Severity.ERROR,
    "SERVICE_HEALTH_UNKNOWN": Severity.ERROR,
}
_EVENT_TYPES = {"WARN": Severity.WARNING, "WARNING": Severity.WARNING, "ERROR": Severity.ERROR}
STEADY_STATE = "SERVICE_STEADY_STATE"
_DEPLOYMENT_PREFIX = "SERVICE_DEPLOYMENT_"


def alert_name(event_name: str) -> str:
    """``SERVICE_TASK_PLACEMENT_FAILURE`` → ``EcsServiceTaskPlacementFailure``."""
    words = [word.capitalize() for word in event_name.split("_") if word]
    if words and words[0] == "Ecs":
        words = words[1:]
    return "Ecs" + "".join(words)


def _resource(detail: JsonObject, path: str, context: EventContext) -> Resource:
    cluster_from_arn = cluster_name(get_str(detail, "clusterArn", path))
    for arn in context.resources:
        found = service_from_arn(arn)
        if found is not None:
            cluster, service = found
            cluster = cluster or cluster_from_arn
            if cluster:
                return ecs_service_resource(cluster, service, account=context.account, region=context.region)
            return Resource(
                provider=Provider.AWS,
                account=context.account,
                region=context.region,
                type="ecs:service",
                id=service,
                name=service,
            )
    return Resource(
        provider=Provider.AWS,
        account=context.account,
        region=context.region,
        type="ecs:cluster" if cluster_from_arn else None,
        id=cluster_from_arn,
        name=cluster_from_arn,
    )


def _alert(
    event_name: str,
    status: AlertStatus,
    severity: Severity,
    detail: JsonObject,
    path: str,
    context: EventContext,
    resource: Resource,
) -> NormalizedAlert:
    moment = get_time(detail, "createdAt", path) or context.event_time
    reason = text(detail, "reason", path)
    where = resource.id or "the cluster"
    arns = [
        item
        for key in ("capacityProviderArns", "containerInstanceArns")
        for item in get_list(detail, key, path)
        if isinstance(item, str)
    ]
    return NormalizedAlert(
        source=context.source,
        fingerprint=stable_hash(
            "ecs-service-action", context.account, context.region, resource.id, event_name
        ),
        name=alert_name(event_name),
        status=status,
        severity=severity,
        summary=f"{event_name} on {where}" + (f": {reason}" if reason else ""),
        resource=resource,
        starts_at=moment if status is AlertStatus.FIRING else None,
        ends_at=moment if status is AlertStatus.RESOLVED else None,
        labels={"event_name": event_name, **({"service": resource.name} if resource.name else {})},
        annotations={
            key: value
            for key, value in {
                "event_type": text(detail, "eventType", path),
                "reason": reason,
                "arns": ", ".join(arns),
            }.items()
            if value
        },
    )


def ecs_service_action_alerts(detail: JsonObject, path: str, context: EventContext) -> list[NormalizedAlert]:
    event_name = require_str(detail, "eventName", path).strip().upper()
    if event_name.startswith(_DEPLOYMENT_PREFIX):
        return ecs_deployment_alerts(detail, path, context)
    event_type = require_str(detail, "eventType", path).strip().upper()
    resource = _resource(detail, path, context)
    if event_name == STEADY_STATE:
        return [
            _alert(name, AlertStatus.RESOLVED, Severity.INFO, detail, path, context, resource)
            for name in PROBLEMS
        ]
    severity = _EVENT_TYPES.get(event_type) or PROBLEMS.get(event_name)
    if severity is None:
        return []
    return [_alert(event_name, AlertStatus.FIRING, severity, detail, path, context, resource)]
