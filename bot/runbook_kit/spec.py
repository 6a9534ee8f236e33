"""How a runbook declares itself.

A runbook is a plain typed function decorated with `@runbook(...)`; the decorator records its
metadata in the registry and returns the function unchanged. Its companions are plain functions
passed to the decorator:

- `plan(ctx, target, params) -> Plan`: read-only; the exact calls it will make with before/after
  values (shown by `--dry-run` and in approval messages). Diagnosis happens here.
- the runbook itself `(ctx, target, params) -> RunResult`: performs the plan's calls.
- `verify(ctx, target, params, result) -> VerifyStatus`: polled after acting until it is not PENDING.
- `rollback(ctx, target, params, result) -> RunResult`: undo, using `result.rollback_state`.
- `reconcile(ctx, target, params, started_at) -> ReconcileDecision`: after a crash, look at the
  target's real state to tell whether the interrupted action already happened.

Runbooks return data and never post messages; reporting renders results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from bot.clock import Clock
from bot.runbook_kit.targets import TARGET_KINDS, Target

P = TypeVar("P", bound=BaseModel)
T = TypeVar("T")


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 0, "medium": 1, "high": 2}[self.value]


class ApprovalMode(StrEnum):
    NEVER = "never"
    ALWAYS = "always"
    RISK_AT_LEAST = "risk_at_least"
    SCORE_BELOW = "score_below"


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """When a run of this runbook needs a human's approval."""

    mode: ApprovalMode
    risk: Risk | None = None  # RISK_AT_LEAST
    score: float | None = None  # SCORE_BELOW: approval when the anomaly score is below this (or unknown)

    @classmethod
    def never(cls) -> ApprovalPolicy:
        return cls(ApprovalMode.NEVER)

    @classmethod
    def always(cls) -> ApprovalPolicy:
        return cls(ApprovalMode.ALWAYS)

    @classmethod
    def when_risk_at_least(cls, risk: Risk) -> ApprovalPolicy:
        return cls(ApprovalMode.RISK_AT_LEAST, risk=risk)

    @classmethod
    def when_score_below(cls, score: float) -> ApprovalPolicy:
        return cls(ApprovalMode.SCORE_BELOW, score=score)

    def describe(self) -> str:
        if self.mode is ApprovalMode.RISK_AT_LEAST and self.risk is not None:
            return f"when risk >= {self.risk.value}"
        if self.mode is ApprovalMode.SCORE_BELOW and self.score is not None:
            return f"when anomaly score < {self.score:g}"
        return self.mode.value


@dataclass(frozen=True, slots=True)
class Budget:
    """At most `max_runs` runs per target within `window` (counted from stored runs)."""

    max_runs: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One call the runbook will make, e.g. ecs.UpdateService desiredCount 2 -> 4."""

    system: str  # "aws.ecs", "azure.web", "jira", ...
    operation: str  # the API operation, e.g. "UpdateService"
    params: dict[str, Any] = field(default_factory=dict)
    before: Any = None
    after: Any = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run would do. No calls means nothing to do; `verdict` says why (e.g. "investigate")."""

    summary: str
    calls: list[PlannedCall] = field(default_factory=list)
    verdict: str = "act"  # "act" when calls are made; otherwise a named reason such as "investigate"
    findings: dict[str, Any] = field(default_factory=dict)  # diagnosis evidence, JSON-able

    @property
    def is_noop(self) -> bool:
        return not self.calls


class Outcome(StrEnum):
    CHANGED = "changed"
    NOOP = "noop"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RunResult:
    outcome: Outcome
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # JSON-able; shown to humans
    rollback_state: dict[str, Any] = field(default_factory=dict)  # what rollback needs to restore

    @classmethod
    def changed(cls, reason: str = "", **details: Any) -> RunResult:
        return cls(Outcome.CHANGED, reason, details)

    @classmethod
    def noop(cls, reason: str, **details: Any) -> RunResult:
        return cls(Outcome.NOOP, reason, details)

    @classmethod
    def failed(cls, reason: str, **details: Any) -> RunResult:
        return cls(Outcome.FAILED, reason, details)


class VerifyStatus(StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"
    FAILED = "failed"


class ReconcileDecision(StrEnum):
    ALREADY_APPLIED = "already_applied"  # the interrupted action happened: do not repeat it
    NOT_APPLIED = "not_applied"  # it did not happen: safe to run again
    UNKNOWN = "unknown"  # cannot tell: escalate to a human, never guess


class Services(Protocol):
    """Typed access to integration clients: `ctx.services.get(GlueClient)`."""

    def get(self, kind: type[T]) -> T: ...


@dataclass(frozen=True, slots=True)
class IncidentContext:
    """What a runbook may know about the incident that triggered it (None for manual runs)."""

    incident_id: str
    title: str
    severity: str
    status: str
    summary: str = ""
    anomaly_score: float | None = None
    explanation: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunContext:
    run_id: str
    services: Services
    clock: Clock
    incident: IncidentContext | None = None
    requested_by: str = "system"


PlanFn = Callable[[RunContext, Target, P], Plan]
ActFn = Callable[[RunContext, Target, P], RunResult]
VerifyFn = Callable[[RunContext, Target, P, RunResult], VerifyStatus]
RollbackFn = Callable[[RunContext, Target, P, RunResult], RunResult]
ReconcileFn = Callable[[RunContext, Target, P, datetime], ReconcileDecision]


@dataclass(frozen=True)
class RunbookSpec(Generic[P]):
    id: str
    title: str
    help: str  # the docstring: help text in Slack and `conductor runbooks list`
    risk: Risk
    params: type[P]
    target_kind: str
    act: ActFn[P]
    plan: PlanFn[P]
    verify: VerifyFn[P] | None = None
    rollback: RollbackFn[P] | None = None
    reconcile: ReconcileFn[P] | None = None
    timeout: timedelta = timedelta(minutes=10)
    cooldown: timedelta = timedelta(0)
    budget: Budget | None = None
    approval: ApprovalPolicy = field(default_factory=ApprovalPolicy.never)
    idempotent: bool = False  # True: safe to repeat blindly after a crash (no reconcile needed)
    # True: a SUCCEEDED verify proves the incident's cause is fixed, so the run resolves it.
    # False: verification also waits for the incident's alerts to resolve (or its score to fall).
    resolves_incident: bool = False
    # True: the runbook only tells someone (a queue, a topic, a webhook) and fixes nothing, so a
    # run is done once it has sent; it is not verified against the incident (never "ineffective").
    notification: bool = False

    @property
    def summary(self) -> str:
        """The first line of the help text."""
        return self.help.strip().splitlines()[0] if self.help.strip() else self.title


class RunbookRegistry:
    """Runbooks by id. Built-ins register into `REGISTRY` at import time."""

    def __init__(self) -> None:
        self._specs: dict[str, RunbookSpec[Any]] = {}

    def add(self, spec: RunbookSpec[Any]) -> None:
        existing = self._specs.get(spec.id)
        if existing is not None and existing.act is not spec.act:
            raise ValueError(f"runbook id {spec.id!r} is registered twice")
        self._specs[spec.id] = spec

    def get(self, runbook_id: str) -> RunbookSpec[Any] | None:
        return self._specs.get(runbook_id)

    def ids(self) -> list[str]:
        return sorted(self._specs)

    def all(self) -> list[RunbookSpec[Any]]:
        return [self._specs[i] for i in self.ids()]


REGISTRY = RunbookRegistry()


def runbook(
    *,
    id: str,
    title: str,
    risk: Risk,
    params: type[P],
    target_kind: str,
    plan: PlanFn[P],
    verify: VerifyFn[P] | None = None,
    rollback: RollbackFn[P] | None = None,
    reconcile: ReconcileFn[P] | None = None,
    timeout: timedelta = timedelta(minutes=10),
    cooldown: timedelta = timedelta(0),
    budget: Budget | None = None,
    approval: ApprovalPolicy | None = None,
    idempotent: bool = False,
    resolves_incident: bool = False,
    notification: bool = False,
    registry: RunbookRegistry | None = None,
) -> Callable[[ActFn[P]], ActFn[P]]:
    """Register a runbook. The decorated function is returned unchanged."""
    if target_kind not in TARGET_KINDS:
        raise ValueError(f"runbook {id!r}: unknown target kind {target_kind!r}")
    if not idempotent and reconcile is None:
        raise ValueError(f"runbook {id!r}: a non-idempotent runbook needs a reconcile function")

    def decorate(fn: ActFn[P]) -> ActFn[P]:
        doc = (fn.__doc__ or "").strip()
        if not doc:
            raise ValueError(f"runbook {id!r}: the docstring is its help text and must not be empty")
        spec: RunbookSpec[P] = RunbookSpec(
            id=id,
            title=title,
            help=doc,
            risk=risk,
            params=params,
            target_kind=target_kind,
            act=fn,
            plan=plan,
            verify=verify,
            rollback=rollback,
            reconcile=reconcile,
            timeout=timeout,
            cooldown=cooldown,
            budget=budget,
            approval=approval or ApprovalPolicy.never(),
            idempotent=idempotent,
            resolves_incident=resolves_incident,
            notification=notification,
        )
        (registry or REGISTRY).add(spec)
        return fn

    return decorate
