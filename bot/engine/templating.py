"""Rule templates over alert fields: `{resource.id}`, `{labels[service]}`, `{metric.dimensions[X]}`."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

from bot.alerts.normalized import NormalizedAlert
from bot.errors import ConductorError


class TemplateError(ConductorError):
    """A template names a field the alert does not have, or a private attribute."""


class _SafeFormatter(string.Formatter):
    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if "_" in {part[:1] for part in field_name.replace("[", ".").replace("]", "").split(".")}:
            raise TemplateError(f"template field {field_name!r}: private attributes are not allowed")
        return super().get_field(field_name, args, kwargs)


_FORMATTER = _SafeFormatter()


def template_context(alert: NormalizedAlert) -> dict[str, Any]:
    return {
        "name": alert.name,
        "source": alert.source,
        "severity": alert.severity.value,
        "status": alert.status.value,
        "fingerprint": alert.fingerprint,
        "resource": alert.resource,
        "metric": alert.metric,
        "labels": alert.labels,
        "annotations": alert.annotations,
    }


def render(template: str, alert: NormalizedAlert) -> str:
    try:
        value = _FORMATTER.vformat(template, (), template_context(alert))
    except (KeyError, AttributeError, IndexError, TypeError, ValueError) as exc:
        raise TemplateError(f"template {template!r}: {exc.__class__.__name__}: {exc}") from None
    if value == "None" or "/None" in value:
        raise TemplateError(f"template {template!r}: a field it names is empty for alert {alert.name!r}")
    return value
