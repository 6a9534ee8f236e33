"""Glue and ECS events from EventBridge, as alerts on the job or service a runbook can act on.

Decisions:

- Glue Job State Change: FAILED, ERROR and TIMEOUT fire (severity from the event's ERROR/WARN),
  STOPPED fires as a *warning* (a run that someone or something stopped did not do its work, but
  it is not a crash: worth a look, rarely worth a page); SUCCEEDED resolves. Other states: no
  alert. The fingerprint is keyed on the job (account, region, job name), not on the run id, so
  the next successful run resolves the failure. Resource ``glue:job`` with id = job name.
- Glue Job Run Status (a run in STARTING, RUNNING, STOPPING or WAITING past the job's notify-delay
  threshold) fires a *warning* ``GlueJobRunDelayed`` with the same fingerprint, so the run's end
  (SUCCEEDED resolves, FAILED escalates) settles it; a terminal state (TIMEOUT, FAILED...) in
  this event reads as in Glue Job State Change.
- ECS Task State Change: fires only for a STOPPED task whose essential container exited
  (``stopCode: EssentialContainerExited``) with a non-zero exit code. The event does not say
  which container is essential; the stop code does. Every other task event: no alert. There is
  no "recovered" task event, so these alerts are resolved by the pipeline (or a human).
- ECS Deployment State Change: SERVICE_DEPLOYMENT_FAILED fires, SERVICE_DEPLOYMENT_COMPLETED
  resolves (same fingerprint, keyed on the service); IN_PROGRESS: no alert.
- ECS resources are ``ecs:service`` with id ``CLUSTER/SERVICE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource, Severity
from integrations.aws.resources import ecs_service_resource
from integrations.base import ParseOptions
from integrations.common.payload import (
    JsonObject,
    expect_object,
    get_int_or_none,
    get_list,
    get_object,
    get_str,
    get_time,
    iso,
    join,
    require_str,
    stable_hash,
    text,
)


@dataclass(frozen=True, slots=True)
class EventContext:
    """The envelope fields every AWS event carries, and the parse options of the source."""

    account: str | None
    region: str | None
    event_time: datetime | None
    resources: list[str]
    source: str = "eventbridge"  # the webhook source the event came in on
    options: ParseOptions = field(default_factory=ParseOptions)


_GLUE_FIRING: dict[str, Severity] = {
    "FAILED": Severity.ERROR,
    "ERROR": Severity.ERROR,
    "TIMEOUT": Severity.WARNING,
    "STOPPED": Severity.WARNING,
}
_GLUE_EVENT_SEVERITY = {"ERROR": Severity.ERROR, "WARN": Severity.WARNING}


def glue_job_alerts(detail: JsonObject, path: str, context: EventContext) -> list[NormalizedAlert]:
    job = require_str(detail, "jobName", path)
    state = require_str(detail, "state", path).strip().upper()
    if state == "SUCCEEDED":
        status, severity = AlertStatus.RESOLVED, Severity.INFO
    elif state in _GLUE_FIRING:
        status = AlertStatus.FIRING
        severity = _GLUE_FIRING[state]
        if state != "STOPPED":
            severity = _GLUE_EVENT_SEVERITY.get(text(detail, "severity", path).upper(), severity)
    else:
        return []
    message = text(detail, "message", path)
    return [
        NormalizedAlert(
            source=context.source,
            fingerprint=_glue_fingerprint(context, job),
            name="GlueJobFailed",
            status=status,
            severity=severity,
            summary=message or f"Glue job {job}: {state}",
            description=f"Glue job {job} run {text(detail, 'jobRunId', path)} ended {state}.",
            resource=_glue_resource(context, job),
            starts_at=context.event_time if status is AlertStatus.FIRING else None,
            ends_at=context.event_time if status is AlertStatus.RESOLVED else None,
            labels={"job_name": job},
            annotations={"state": state, "job_run_id": text(detail, "jobRunId", path), "message": message},
        )
    ]


def glue_run_status_alerts(detail: JsonObject, path: str, context: EventContext) -> list[NormalizedAlert]:
    """Glue Job Run Status: a run past its notify-delay threshold, or (rarely) a terminal state."""
    state = require_str(detail, "state", path).strip().upper()
    if state in _GLUE_FIRING or state == "SUCCEEDED":
        return glue_job_alerts(detail, path, context)
    job = require_str(detail, "jobName", path)
    run_id = text(detail, "jobRunId", path)
    delay = get_object(detail, "notificationCondition", path).get("NotifyDelayAfter")
    started = get_time(detail, "startedOn", path)
    message = text(detail, "message", path)
    return [
        NormalizedAlert(
            source=context.source,
            fingerprint=_glue_fingerprint(context, job),
            name="GlueJobRunDelayed",
            status=AlertStatus.FIRING,
            severity=Severity.WARNING,
            summary=f"Glue job {job} is still {state} past its notify delay"
            + (
                f" of {delay} min"
                if isinstance(delay, int)
                else f" of {delay:g} min"
                if isinstance(delay, float)
                else ""
            ),
            description=message,
            resource=_glue_resource(context, job),
            starts_at=context.event_time or started,
            labels={"job_name": job},
            annotations={
                key: value
                for key, value in {
                    "state": state,
                    "job_run_id": run_id,
                    "message": message,
                    "started_on": iso(started),
                }.items()
                if value
            },
        )
    ]


def _glue_fingerprint(context: EventContext, job: str) -> str:
    return stable_hash("glue-job", context.account or "", context.region or "", job)


def _glue_resource(context: EventContext, job: str) -> Resource:
    return Resource(
        provider=Provider.AWS,
        account=context.account,
        region=context.region,
        type="glue:job",
        id=job,
        name=job,
    )


def cluster_name(cluster_arn: str | None) -> str | None:
    if not cluster_arn:
        return None
    return cluster_arn.rsplit("/", 1)[-1] if "/" in cluster_arn else cluster_arn


def _failed_containers(detail: JsonObject, path: str) -> list[tuple[str, int, str]]:
    failed = []
    for index, item in enumerate(get_list(detail, "containers", path)):
        container_path = join(join(path, "containers"), index)
        container = expect_object(item, container_path)
        code = get_int_or_none(container, "exitCode", container_path)
        if code is not None and code != 0:
            name = text(container, "name", container_path) or f"container[{index}]"
            failed.append((name, code, text(container, "reason", container_path)))
    return failed


def ecs_task_alerts(detail: JsonObject, path: str, context: EventContext) -> list[NormalizedAlert]:
    if text(detail, "lastStatus", path).upper() != "STOPPED":
        return []
    stop_code = text(detail, "stopCode", path)
    stopped_reason = text(detail, "stoppedReason", path)
    essential_exit = stop_code == "EssentialContainerExited" or stopped_reason.startswith(
        "Essential container in task exited"
    )
    failed = _failed_containers(detail, path)
    if not essential_exit or not failed:
        return []
    cluster = cluster_name(get_str(detail, "clusterArn", path)) or "default"
    group = text(detail, "group", path)
    task_arn = text(detail, "taskArn", path)
    if group.startswith("service:"):
        resource = ecs_service_resource(
            cluster, group.removeprefix("service:"), account=context.account, region=context.region
        )
    else:
        family = group.removeprefix("family:") or None
        resource = Resource(
            provider=Provider.AWS,
            account=context.account,
            region=context.region,
            type="ecs:task",
            id=f"{cluster}/{task_arn.rsplit('/', 1)[-1]}" if task_arn else cluster,
            name=family,
        )
    name, code, reason = failed[0]
    annotations = {"task_arn": task_arn, "stop_code": stop_code, "stopped_reason": stopped_reason}
    annotations.update({f"exit_code.{cname}": str(ccode) for cname, ccode, _ in failed})
    return [
        NormalizedAlert(
            source=context.source,
            fingerprint=stable_hash("ecs-task-exit", context.account, context.region, cluster, group),
            name="EcsEssentialContainerExited",
            status=AlertStatus.FIRING,
            severity=Severity.ERROR,
            summary=f"Essential container {name} exited with code {code}" + (f": {reason}" if reason else ""),
            description=stopped_reason,
            resource=resource,
            starts_at=get_time(detail, "stoppedAt", path) or context.event_time,
            labels={"cluster": cluster, "group": group},
            annotations={key: value for key, value in annotations.items() if value},
        )
    ]


def service_from_arn(arn: str) -> tuple[str | None, str] | None:
    """``arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE`` (or the old ``service/SERVICE``)."""
    resource = arn.split(":", 5)[-1] if arn.startswith("arn:") else arn
    parts = resource.split("/")
    if parts[0] != "service" or len(parts) < 2:
        return None
    return (parts[1], parts[2]) if len(parts) >= 3 else (None, parts[1])


def ecs_deployment_alerts(detail: JsonObject, path: str, context: EventContext) -> list[NormalizedAlert]:
    event_name = require_str(detail, "eventName", path)
    if event_name == "SERVICE_DEPLOYMENT_FAILED":
        status = AlertStatus.FIRING
    elif event_name == "SERVICE_DEPLOYMENT_COMPLETED":
        status = AlertStatus.RESOLVED
    else:
        return []
    service = next((found for arn in context.resources if (found := service_from_arn(arn))), None)
    if service is None:
        return []
    cluster, name = service
    if cluster:
        resource = ecs_service_resource(cluster, name, account=context.account, region=context.region)
    else:
        resource = Resource(
            provider=Provider.AWS,
            account=context.account,
            region=context.region,
            type="ecs:service",
            id=name,
            name=name,
        )
    moment = get_time(detail, "updatedAt", path) or context.event_time
    return [
        NormalizedAlert(
            source=context.source,
            fingerprint=stable_hash("ecs-deployment", context.account, context.region, resource.id),
            name="EcsDeploymentFailed",
            status=status,
            severity=Severity.ERROR if status is AlertStatus.FIRING else Severity.INFO,
            summary=text(detail, "reason", path) or f"ECS deployment of {resource.id}: {event_name}",
            resource=resource,
            starts_at=moment if status is AlertStatus.FIRING else None,
            ends_at=moment if status is AlertStatus.RESOLVED else None,
            labels={"cluster": cluster, "service": name} if cluster else {"service": name},
            annotations={
                "event_name": event_name,
                "deployment_id": text(detail, "deploymentId", path),
            },
        )
    ]
