"""Runbook targets are strings such as `aws:ecs:service/CLUSTER/SERVICE`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import InvalidTarget

# kind -> names of the path parts after the slash
TARGET_KINDS: dict[str, tuple[str, ...]] = {
    "aws:glue:job": ("name",),
    "aws:ecs:service": ("cluster", "service"),
    "aws:autoscaling:group": ("name",),
    "aws:ec2:instance": ("id",),
    "azure:web:site": ("subscription", "resource_group", "name"),
    "azure:web:plan": ("subscription", "resource_group", "name"),
    "jira:project": ("key",),
    "pagerduty:service": ("routing_key_name",),
    "aws:sqs:queue": ("name",),
    "aws:sns:topic": ("arn",),
    "webhook:endpoint": ("name",),
}


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    parts: tuple[str, ...]

    @property
    def raw(self) -> str:
        return f"{self.kind}/{'/'.join(self.parts)}"

    def part(self, name: str) -> str:
        return self.parts[TARGET_KINDS[self.kind].index(name)]

    def __str__(self) -> str:
        return self.raw


def parse_target(raw: str) -> Target:
    """Parse `kind/part[/part...]`, checking the kind and the number of parts."""
    kind, sep, rest = raw.strip().partition("/")
    if not sep:
        raise InvalidTarget(f"target {raw!r}: expected KIND/NAME, e.g. aws:glue:job/nightly-etl")
    names = TARGET_KINDS.get(kind)
    if names is None:
        known = ", ".join(sorted(TARGET_KINDS))
        raise InvalidTarget(f"target {raw!r}: unknown kind {kind!r} (known: {known})")
    parts = tuple(rest.split("/"))
    if len(parts) != len(names) or any(not p for p in parts):
        shape = "/".join(n.upper() for n in names)
        raise InvalidTarget(f"target {raw!r}: expected {kind}/{shape}")
    return Target(kind=kind, parts=parts)
