"""EC2 Instance State-change Notification events from EventBridge.

Decisions (``[ingest.eventbridge]`` sets the two lists):

- A state in ``ec2_alert_states`` (default ``stopped`` and ``terminated``) fires: an instance that
  stopped is a *warning* (it can be started again), one that was terminated an *error*.
- ``running`` resolves (same fingerprint, keyed on the instance).
- ``pending``, ``stopping``, ``shutting-down`` and states not configured: no alert.
- Instances matching ``ec2_expected_instances`` (fnmatch patterns: instances that a schedule or
  an Auto Scaling group stops on purpose) make no alert at all.
- Resource ``ec2:instance`` with the instance id (what ``aws.ec2.reboot_instance`` takes).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource, Severity
from integrations.aws.service_events import EventContext
from integrations.common.payload import JsonObject, require_str, stable_hash

_SEVERITY = {"terminated": Severity.ERROR}
_RUNNING = "running"


def ec2_state_alerts(detail: JsonObject, path: str, context: EventContext) -> list[NormalizedAlert]:
    instance = require_str(detail, "instance-id", path)
    state = require_str(detail, "state", path).strip().lower()
    options = context.options
    if any(fnmatchcase(instance, pattern) for pattern in options.ec2_expected_instances):
        return []
    alerting = {configured.strip().lower() for configured in options.ec2_alert_states}
    if state == _RUNNING:
        status, severity = AlertStatus.RESOLVED, Severity.INFO
    elif state in alerting:
        status, severity = AlertStatus.FIRING, _SEVERITY.get(state, Severity.WARNING)
    else:
        return []
    moment = context.event_time
    return [
        NormalizedAlert(
            source=context.source,
            fingerprint=stable_hash(
                "ec2-instance-state", context.account or "", context.region or "", instance
            ),
            name="Ec2InstanceNotRunning",
            status=status,
            severity=severity,
            summary=f"EC2 instance {instance} is {state}",
            resource=Resource(
                provider=Provider.AWS,
                account=context.account,
                region=context.region,
                type="ec2:instance",
                id=instance,
                name=instance,
            ),
            starts_at=moment if status is AlertStatus.FIRING else None,
            ends_at=moment if status is AlertStatus.RESOLVED else None,
            labels={"instance_id": instance},
            annotations={"state": state},
        )
    ]
