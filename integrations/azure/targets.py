"""Which resource an Azure Monitor alert is about.

``essentials.alertTargetIDs`` names what the rule watches. For a log search alert that is the
Log Analytics workspace (or Application Insights component), not the machine whose logs
matched; the machine is in ``AffectedConfigurationItems`` (log alerts v1) or in the dimension
the rule is split by (log alerts v2 and metric alerts: ``Computer``, ``_ResourceId``,
``ResourceId``). Decisions:

- An affected item or dimension value that is an ARM id becomes that resource (``_ResourceId``
  of a VM → ``compute:virtualmachine``).
- A plain name (``Computer``) becomes a ``host`` in the target's subscription, but only when
  the target is a scope rather than a resource (a workspace, an Application Insights component,
  a resource group or subscription, or nothing): a rule on a VM split by computer still aims at
  the VM.
- When some values are ARM ids, the plain names are taken to name the same machines (a rule
  split by both ``_ResourceId`` and ``Computer``) and only the ARM ids count.
- Several affected resources make one alert each. The replaced target is kept as the label
  ``workspace`` (a Log Analytics workspace) or ``alert_target`` (anything else).
- ``ResourceId`` values that are not ARM ids (a VM's GUID) name nothing we can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.alerts.normalized import Provider, Resource
from integrations.azure.arm import resource_from_arm_id
from integrations.common.payload import JsonObject, get_list, join, malformed

RESOURCE_DIMENSIONS = ("computer", "_resourceid", "resourceid")
_SCOPE_TYPES = {"operationalinsights:workspace", "insights:component", "resourcegroup", "subscription", None}
_WORKSPACE = "operationalinsights:workspace"


@dataclass(frozen=True, slots=True)
class Targets:
    resources: list[Resource]
    labels: dict[str, str] = field(default_factory=dict)  # the replaced target, if any


def alert_targets(
    essentials: JsonObject, path: str, *, scope_id: str | None, alert_id: str
) -> list[tuple[str, Resource]]:
    """(ARM id, resource) of each ``alertTargetIDs`` entry; else the activity log's scope; else
    the subscription of the alert id."""
    found: list[tuple[str, Resource]] = []
    for index, item in enumerate(get_list(essentials, "alertTargetIDs", path)):
        if not isinstance(item, str):
            raise malformed(join(join(path, "alertTargetIDs"), index), "expected a string")
        found.append((item, resource_from_arm_id(item) or Resource(provider=Provider.AZURE, id=item)))
    if found:
        return found
    scope = resource_from_arm_id(scope_id)
    if scope_id and scope:
        return [(scope_id, scope)]
    from_alert = resource_from_arm_id(alert_id)
    return [("", Resource(provider=Provider.AZURE, account=from_alert.account if from_alert else None))]


def _affected_resource(value: str, scope: Resource) -> Resource | None:
    from_arm = resource_from_arm_id(value)
    if from_arm is not None:
        return from_arm
    if scope.type not in _SCOPE_TYPES or value.lower().startswith("/subscriptions/"):
        return None
    return Resource(provider=Provider.AZURE, account=scope.account, type="host", id=value, name=value)


def choose(targets: list[tuple[str, Resource]], affected: list[str]) -> Targets:
    """The alert's resources: the affected ones when they say more than the single target."""
    if len(targets) != 1 or not affected:
        return Targets([resource for _, resource in targets])
    target_id, target = targets[0]
    arm_ids = [value for value in affected if resource_from_arm_id(value) is not None]
    resources: list[Resource] = []
    for value in arm_ids or affected:  # a machine named both ways (_ResourceId and Computer) once
        resource = _affected_resource(value, target)
        if resource is not None and resource not in resources:
            resources.append(resource)
    if not resources or resources == [target]:
        return Targets([target])
    label = "workspace" if target.type == _WORKSPACE else "alert_target"
    return Targets(resources, {label: target_id} if target_id else {})
