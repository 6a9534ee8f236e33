"""Roles and principals: who is acting, and with how much power.

Roles are ordered: viewer < responder < approver < admin; each includes those below it.
A `Principal` is what an entry point hands to the authorization decision: the actor's audit name
(`slack:U123`, `api:<token name>`, `cli:<os user>`, or a person a trusted proxy names), the role
the configuration grants them, and the groups they are in (for `[approvals]` rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # read incidents, runs, approvals, silences, the audit log, metrics
    RESPONDER = "responder"  # + acknowledge, resolve, silence, run runbooks (through the gate)
    APPROVER = "approver"  # + approve or deny runs, where [approvals] names them
    ADMIN = "admin"  # + silences that match every alert or last longer than the maximum

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.RESPONDER: 1, Role.APPROVER: 2, Role.ADMIN: 3}


def highest(*roles: Role | None) -> Role | None:
    granted = [r for r in roles if r is not None]
    return max(granted, key=lambda r: r.rank) if granted else None


def capped(role: Role | None, cap: Role) -> Role | None:
    """`role`, but never above `cap` (what a proxy or the CLI may vouch for)."""
    if role is None:
        return None
    return role if cap.at_least(role) else cap


def identity(actor: str) -> str:
    """One person, however the entry point spells them: `slack:U123` and `U123` are the same."""
    return actor.removeprefix("slack:")


@dataclass(frozen=True, slots=True)
class Principal:
    actor: str  # the audit log's actor
    role: Role | None  # None: no role at all (refused everything)
    groups: frozenset[str] = field(default_factory=frozenset)  # group names/ids, for [approvals]
    via: str = ""  # the trusted proxy token or CLI that vouched for `actor`, if any

    def __str__(self) -> str:
        return self.actor + (f" (via {self.via})" if self.via else "")
