"""What a policy's matchers look at: a run's (or an alert's) service, provider, resource and runbook.

- service: the incident's `service` label (a run), the alert's `service` label (an alert);
- provider: aws, azure, gcp... (a run: its target's kind prefix);
- resource: a run's target (e.g. `aws:ecs:service/prod/orders`), an alert's resource id;
- runbook: the run's runbook id (empty for an alert, so runbook-scoped freezes never mark alerts).

Matchers are the shared RE2 matchers of silences and rules (bot.matching), over these four fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.alerts.normalized import NormalizedAlert
from bot.config.policies import SCOPE_FIELDS, ScopeMatch
from bot.matching import InvalidMatcher, Matcher


@dataclass(frozen=True, slots=True)
class Scope:
    service: str = ""
    provider: str = ""
    resource: str = ""
    runbook: str = ""

    def fields(self) -> dict[str, str]:
        return {
            "label:service": self.service,
            "label:provider": self.provider,
            "label:resource": self.resource,
            "label:runbook": self.runbook,
        }


def run_scope(*, runbook: str, target: str, service: str) -> Scope:
    provider = target.split(":", 1)[0] if ":" in target else ""
    return Scope(service=service, provider=provider, resource=target, runbook=runbook)


def alert_scope(alert: NormalizedAlert) -> Scope:
    return Scope(
        service=alert.labels.get("service", ""),
        provider=alert.resource.provider.value,
        resource=alert.resource.id or alert.resource.name or "",
    )


def scope_matchers(matches: Iterable[ScopeMatch | Mapping[str, Any]]) -> tuple[Matcher, ...]:
    """Matchers over a `Scope` (raises `InvalidMatcher` for a bad name or regex)."""
    out = []
    for m in matches:
        data = m.model_dump() if isinstance(m, ScopeMatch) else dict(m)
        name = str(data["name"])
        if name not in SCOPE_FIELDS:
            raise InvalidMatcher(f"matcher {name!r}: use one of {', '.join(SCOPE_FIELDS)}")
        out.append(Matcher(f"label:{name}", str(data.get("op", "=")), str(data["value"])))
    return tuple(out)


def matches_scope(matchers: Sequence[Matcher], scope: Scope) -> bool:
    fields = scope.fields()
    return all(m.matches(fields) for m in matchers)


def describe(matchers: Sequence[Matcher]) -> str:
    if not matchers:
        return "everything"
    return ", ".join(f'{m.name.removeprefix("label:")}{m.op}"{m.value}"' for m in matchers)


def to_json(matchers: Sequence[Matcher]) -> list[dict[str, str]]:
    return [{"name": m.name.removeprefix("label:"), "op": m.op, "value": m.value} for m in matchers]
