"""Azure Resource Manager ids as normalized resources (runbook targets).

``/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Web/sites/NAME`` becomes
provider azure, account SUB, type ``web:site``, id ``SUB/RG/NAME``, name NAME, so that the
runbook target is ``azure:web:site/SUB/RG/NAME``. Azure lower-cases ids in alert payloads
(``resourcegroups``, ``microsoft.web``); segment keywords are matched case-insensitively and
names are kept as sent. Nested types join with ``/`` (``sql:server/database``, id
``SUB/RG/SERVER/DB``).
"""

from __future__ import annotations

from bot.alerts.normalized import Provider, Resource


def _singular(plural: str) -> str:
    word = plural.lower()
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def resource_from_arm_id(arm_id: str | None) -> Resource | None:
    """Parse an ARM resource id; None when it is not one."""
    if not arm_id:
        return None
    parts = [part for part in arm_id.strip().split("/") if part]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None
    subscription = parts[1]
    rest = parts[2:]
    if not rest:
        return Resource(
            provider=Provider.AZURE,
            account=subscription,
            type="subscription",
            id=subscription,
            name=subscription,
        )
    if rest[0].lower() != "resourcegroups" or len(rest) < 2:
        return Resource(provider=Provider.AZURE, account=subscription, id=arm_id, name=parts[-1])
    group = rest[1]
    rest = rest[2:]
    if len(rest) < 4 or rest[0].lower() != "providers":
        return Resource(
            provider=Provider.AZURE,
            account=subscription,
            type="resourcegroup",
            id=f"{subscription}/{group}",
            name=group,
        )
    namespace = rest[1].lower().removeprefix("microsoft.")
    pairs = rest[2:]
    kinds = [_singular(pairs[index]) for index in range(0, len(pairs) - 1, 2)]
    names = [pairs[index] for index in range(1, len(pairs), 2)]
    return Resource(
        provider=Provider.AZURE,
        account=subscription,
        type=f"{namespace}:{'/'.join(kinds)}",
        id="/".join([subscription, group, *names]),
        name=names[-1],
    )
