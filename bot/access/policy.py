"""The one authorization decision: a principal and what they ask for in, allowed or refused out.

`authorize(principal, request, limits=...)` is pure (no store, no clock, no I/O) and every entry
point calls it the same way — Slack commands and buttons, the CLI, the HTTP API, and any page
built later — through `bot.access.guard.enforce`, which audits refusals. What each action needs:

- `Do(READ)`: viewer.
- `Do(ACKNOWLEDGE | RESOLVE | UNSILENCE | RUN | PREVIEW | RUN_SWEEP)`: responder.
- `AddSilence(matchers, duration)`: responder; admin when the silence matches every alert or
  lasts longer than `limits.max_silence`.
- `Decide(rule, requested_by)`: approver, and the run's `[approvals]` entry must name them (as a
  user or through a group) or grant its `role`; never the requester; no entry: refused (fail closed).
- `Do(ADMINISTER)`: admin (replaying dead letters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.matching import Matcher
from bot.roles import Principal, Role, identity


class Action(StrEnum):
    READ = "read"
    ACKNOWLEDGE = "incident.acknowledge"
    RESOLVE = "incident.resolve"
    UNSILENCE = "silence.expire"
    RUN = "run.request"
    PREVIEW = "run.preview"  # a dry run reads the target's real state
    RUN_SWEEP = "sweep.run"
    ADMINISTER = "administer"
    FREEZE = "freeze.manage"  # add or end a change freeze / maintenance window
    RESUME = "circuit.resume"  # close an open circuit breaker


NEEDS: dict[Action, Role] = {
    Action.READ: Role.VIEWER,
    Action.ACKNOWLEDGE: Role.RESPONDER,
    Action.RESOLVE: Role.RESPONDER,
    Action.UNSILENCE: Role.RESPONDER,
    Action.RUN: Role.RESPONDER,
    Action.PREVIEW: Role.RESPONDER,
    Action.RUN_SWEEP: Role.RESPONDER,
    Action.ADMINISTER: Role.ADMIN,
    Action.FREEZE: Role.APPROVER,
    Action.RESUME: Role.APPROVER,
}


@dataclass(frozen=True, slots=True)
class ApproverRule:
    """The `[approvals.approvers]` entry that applies to one run (its runbook id, else its risk)."""

    users: frozenset[str]
    groups: frozenset[str]
    quorum: int
    role: Role | None = None  # anyone holding this role (or a higher one) may approve too
    configured: bool = True  # False: no entry applies, so nobody may approve (fail closed)


NO_APPROVERS = ApproverRule(frozenset(), frozenset(), 1, configured=False)


@dataclass(frozen=True, slots=True)
class Do:
    action: Action


@dataclass(frozen=True, slots=True)
class AddSilence:
    matchers: tuple[Matcher, ...]
    duration: timedelta


@dataclass(frozen=True, slots=True)
class Decide:
    rule: ApproverRule
    requested_by: str


AccessRequest = Do | AddSilence | Decide


@dataclass(frozen=True, slots=True)
class Limits:
    max_silence: timedelta = timedelta(hours=24)  # longer silences need admin


class Refusal(StrEnum):
    NO_ROLE = "no_role"
    ROLE_TOO_LOW = "role_too_low"
    SILENCE_MATCHES_EVERYTHING = "silence_matches_everything"
    SILENCE_TOO_LONG = "silence_too_long"
    NO_APPROVERS_CONFIGURED = "no_approvers_configured"
    SELF_APPROVAL = "self_approval"
    NOT_AN_APPROVER = "not_an_approver"
    UNTRUSTED_FORWARDED_USER = "untrusted_forwarded_user"


@dataclass(frozen=True, slots=True)
class Allowed:
    pass


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal
    detail: str


Decision = Allowed | Refused
ALLOWED = Allowed()

# Values no sensible matcher expects all at once: a regex that accepts every one of them (and an
# operator that accepts the empty string, i.e. alerts without the label) selects nothing.
_PROBES = ("x", "0", "conductor-probe-7f3a", "Some Value/with:punctuation.", "é ü 中")


def unselective(matcher: Matcher) -> bool:
    """True when the matcher lets (almost) every alert through: it matches the empty string —
    every alert without that label or field — or every probe value (`alertname=~".+"`)."""
    key = matcher.name
    return matcher.matches({key: ""}) or all(matcher.matches({key: probe}) for probe in _PROBES)


def matches_everything(matchers: Sequence[Matcher]) -> bool:
    """A silence whose every matcher is unselective mutes every alert (Alertmanager refuses
    silences whose matchers all match the empty string for the same reason)."""
    return all(unselective(m) for m in matchers)


def _role_check(principal: Principal, needed: Role, what: str) -> Decision:
    if principal.role is None:
        return Refused(Refusal.NO_ROLE, f"{principal} has no role; {what} needs {needed.value}")
    if not principal.role.at_least(needed):
        return Refused(
            Refusal.ROLE_TOO_LOW,
            f"{principal} has the {principal.role.value} role; {what} needs {needed.value}",
        )
    return ALLOWED


def _silence(principal: Principal, request: AddSilence, limits: Limits) -> Decision:
    allowed = _role_check(principal, Role.RESPONDER, "silencing")
    if isinstance(allowed, Refused):
        return allowed
    if principal.role is Role.ADMIN:
        return ALLOWED
    if matches_everything(request.matchers):
        shown = " ".join(str(m) for m in request.matchers)
        return Refused(
            Refusal.SILENCE_MATCHES_EVERYTHING,
            f"the silence {shown} matches every alert; only an admin may create it",
        )
    if request.duration > limits.max_silence:
        return Refused(
            Refusal.SILENCE_TOO_LONG,
            f"the silence lasts {request.duration}, longer than {limits.max_silence}; "
            "only an admin may create it",
        )
    return ALLOWED


def _decide(principal: Principal, request: Decide) -> Decision:
    rule = request.rule
    if identity(principal.actor) == identity(request.requested_by):
        return Refused(Refusal.SELF_APPROVAL, f"{principal.actor} requested this run and cannot approve it")
    if not rule.configured:
        return Refused(
            Refusal.NO_APPROVERS_CONFIGURED,
            "nobody is configured to approve this run ([approvals.approvers]); approvals fail closed",
        )
    if principal.role is None or not principal.role.at_least(Role.APPROVER):
        held = principal.role.value if principal.role else "no"
        return Refused(
            Refusal.ROLE_TOO_LOW,
            f"{principal} is not an allowed approver for this run ({held} role; approving needs approver)",
        )
    named = identity(principal.actor) in {identity(u) for u in rule.users} or rule.groups & principal.groups
    if named or (rule.role is not None and principal.role.at_least(rule.role)):
        return ALLOWED
    return Refused(Refusal.NOT_AN_APPROVER, f"{principal} is not an allowed approver for this run")


def authorize(principal: Principal, request: AccessRequest, *, limits: Limits = Limits()) -> Decision:
    """May `principal` do `request`? Allowed, or Refused with a named reason and a sentence."""
    match request:
        case Do(action):
            return _role_check(principal, NEEDS[action], action.value)
        case AddSilence():
            return _silence(principal, request, limits)
        case Decide():
            return _decide(principal, request)
