"""AWS Health events from EventBridge (``AWS Health Event`` and ``AWS Health Abuse Event``).

Decisions:

- One alert per affected entity (``detail.affectedEntities[].entityValue``, else the event's
  ``resources``), each with its entity as the resource, so a runbook or a silence aims at one
  instance, service or cluster. An event with no entities (public issues, account
  notifications) is one alert about the event itself (type ``health:event``).
- Status: ``statusCode`` ``open`` or ``upcoming`` → firing, ``closed`` → resolved; an entity
  whose own ``statusCode`` is ``RESOLVED`` or ``UNIMPAIRED`` is resolved even while the event is
  open. Without a ``statusCode`` (older events), an ``endTime`` at or before the event's time
  means closed. Any other ``statusCode`` is refused.
- Severity from ``eventTypeCategory``: ``issue`` → error, ``investigation``, ``scheduledChange``
  and ``plannedChange`` → warning, ``accountNotification`` → info, else unknown.
- Fingerprint: the event ARN (not unique across accounts, so with the affected account) and the
  entity; every update of the event (a new EventBridge event id) updates the same alerts.
- Name: ``eventTypeCode`` (``AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED``); summary: the first line of
  the English description; resource of an entity: an ARN in its runbook-target form
  (``ecs:service`` ``CLUSTER/SERVICE``...), ``CLUSTER|SERVICE`` (Fargate task retirement) as an
  ECS service, ``i-...`` as an EC2 instance, anything else ``SERVICE:entity``.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource, Severity
from bot.errors import MalformedPayload
from integrations.aws.resources import ecs_service_resource, resource_from_arn
from integrations.aws.service_events import EventContext
from integrations.common.payload import (
    JsonObject,
    expect_object,
    get_list,
    get_str,
    get_str_map,
    get_time,
    iso,
    join,
    require_str,
    stable_hash,
    text,
)

_STATUS = {"open": AlertStatus.FIRING, "upcoming": AlertStatus.FIRING, "closed": AlertStatus.RESOLVED}
_ENTITY_RESOLVED = {"resolved", "unimpaired"}
_SEVERITY = {
    "issue": Severity.ERROR,
    "investigation": Severity.WARNING,
    "scheduledchange": Severity.WARNING,
    "plannedchange": Severity.WARNING,
    "accountnotification": Severity.INFO,
}
_SUMMARY_LIMIT = 200
_INSTANCE = re.compile(r"i-[0-9a-f]{8,17}")


def _event_status(detail: JsonObject, path: str, event_time: datetime | None) -> AlertStatus:
    raw = get_str(detail, "statusCode", path)
    if raw is None or not raw.strip():
        ended = get_time(detail, "endTime", path)
        closed = ended is not None and event_time is not None and ended <= event_time
        return AlertStatus.RESOLVED if closed else AlertStatus.FIRING
    status = _STATUS.get(raw.strip().lower())
    if status is None:
        raise MalformedPayload(f"{join(path, 'statusCode')}: expected open, upcoming or closed, got {raw!r}")
    return status


def _description(detail: JsonObject, path: str) -> str:
    """The English (else the first) ``latestDescription``; some senders use an object, not a list."""
    raw = detail.get("eventDescription")
    items = [raw] if isinstance(raw, dict) else get_list(detail, "eventDescription", path)
    texts: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        item_path = join(join(path, "eventDescription"), index)
        entry = expect_object(item, item_path)
        texts.append((text(entry, "language", item_path), text(entry, "latestDescription", item_path)))
    english = [body for language, body in texts if language.lower().startswith("en")]
    chosen = english[0] if english else (texts[0][1] if texts else "")
    return chosen.strip()


def _summary(description: str, fallback: str) -> str:
    first = next((line.strip() for line in description.splitlines() if line.strip()), "")
    if len(first) > _SUMMARY_LIMIT:
        first = first[: _SUMMARY_LIMIT - 1].rstrip() + "…"
    return first or fallback


def entity_resource(value: str, *, service: str, account: str | None, region: str | None) -> Resource:
    """An affected entity as a resource (see the module docstring)."""
    from_arn = resource_from_arn(value, account=account, region=region)
    if from_arn is not None:
        return from_arn
    if "|" in value:
        cluster, _, name = value.partition("|")
        return ecs_service_resource(cluster, name, account=account, region=region)
    if _INSTANCE.fullmatch(value):
        kind = "ec2:instance"
    else:
        kind = f"{service.lower()}:entity" if service else "health:entity"
    return Resource(provider=Provider.AWS, account=account, region=region, type=kind, id=value, name=value)


def _entities(detail: JsonObject, path: str, context: EventContext) -> list[tuple[str, str, dict[str, str]]]:
    """(value, own status code, tags) of each affected entity; the event's resources if none."""
    found: list[tuple[str, str, dict[str, str]]] = []
    for index, item in enumerate(get_list(detail, "affectedEntities", path)):
        item_path = join(join(path, "affectedEntities"), index)
        entity = expect_object(item, item_path)
        value = get_str(entity, "entityValue", item_path)
        if value and value.strip():
            status = text(entity, "statusCode", item_path) or text(entity, "status", item_path)
            found.append((value.strip(), status, get_str_map(entity, "tags", item_path)))
    if not found:
        found = [(arn, "", {}) for arn in context.resources if arn.strip()]
    return list({value: (value, status, tags) for value, status, tags in found}.values())


def health_alerts(detail: JsonObject, path: str, context: EventContext) -> list[NormalizedAlert]:
    arn = require_str(detail, "eventArn", path)
    type_code = require_str(detail, "eventTypeCode", path)
    event_status = _event_status(detail, path, context.event_time)
    category = text(detail, "eventTypeCategory", path)
    service = text(detail, "service", path)
    account = get_str(detail, "affectedAccount", path) or context.account
    region = get_str(detail, "eventRegion", path) or context.region
    description = _description(detail, path)
    started = get_time(detail, "startTime", path)
    ended = get_time(detail, "endTime", path)
    updated = get_time(detail, "lastUpdatedTime", path)
    labels = {
        "service": service,
        "event_type_category": category,
        "event_scope": text(detail, "eventScopeCode", path),
    }
    annotations = {
        "event_arn": arn,
        "status_code": text(detail, "statusCode", path),
        "event_region": text(detail, "eventRegion", path),
        "communication_id": text(detail, "communicationId", path),
        "last_updated": iso(updated),
        "start_time": iso(started),
        "end_time": iso(ended),
    }
    entities = _entities(detail, path, context) or [("", "", {})]
    alerts = []
    for value, entity_status, tags in entities:
        status = AlertStatus.RESOLVED if entity_status.lower() in _ENTITY_RESOLVED else event_status
        if value:
            resource = entity_resource(value, service=service, account=account, region=region)
        else:
            resource = Resource(
                provider=Provider.AWS,
                account=account,
                region=region,
                type="health:event",
                id=arn,
                name=type_code,
            )
        alerts.append(
            NormalizedAlert(
                source=context.source,
                fingerprint=stable_hash("aws-health", account or "", arn, value),
                name=type_code,
                status=status,
                severity=_SEVERITY.get(category.lower(), Severity.UNKNOWN),
                summary=_summary(description, f"AWS Health {category or 'event'}: {type_code}"),
                description=description,
                resource=resource,
                starts_at=started or context.event_time,
                ends_at=(ended or updated or context.event_time) if status is AlertStatus.RESOLVED else None,
                labels={key: item for key, item in {**labels, **tags}.items() if item},
                annotations={
                    key: item
                    for key, item in {**annotations, "entity": value, "entity_status": entity_status}.items()
                    if item
                },
            )
        )
    return alerts
