"""Which incident an alert belongs to: a key built from configurable fields (like group_by)."""

from __future__ import annotations

import hashlib

from bot.alerts.normalized import NormalizedAlert


def group_key(alert: NormalizedAlert, group_by: list[str]) -> str:
    parts = []
    for key in group_by:
        if key == "provider":
            value = alert.resource.provider.value
        elif key == "resource":
            value = alert.resource.id or alert.resource.name or ""
        elif key == "name":
            value = alert.name
        elif key == "source":
            value = alert.source
        elif key == "severity":
            value = alert.severity.value
        else:  # label:<key>
            value = alert.labels.get(key.removeprefix("label:"), "")
        parts.append(f"{key}={value}")
    text = "|".join(parts)
    if len(text) <= 500:
        return text
    return text[:430] + "|sha256=" + hashlib.sha256(text.encode()).hexdigest()


def incident_title(alert: NormalizedAlert) -> str:
    where = alert.resource.name or alert.resource.id
    title = f"{alert.name} on {where}" if where else alert.name
    return title[:500]
