"""An engine over a real store (both backends) with test runbooks acting on a recording system."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from bot.access.grants import Grants
from bot.config.loader import parse_settings
from bot.engine.deps import EngineDeps
from bot.engine.engine import Engine
from bot.job_runner import JobRunner
from bot.roles import Principal
from bot.runbook_kit.services import ServiceRegistry
from bot.runbook_kit.spec import (
    ApprovalPolicy,
    Budget,
    Plan,
    PlannedCall,
    ReconcileDecision,
    Risk,
    RunbookRegistry,
    RunContext,
    RunResult,
    VerifyStatus,
    runbook,
)
from bot.runbook_kit.targets import Target
from bot.store.db import Store


class SettableClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class TestSystem:
    """The outside system the test runbooks change: a counter per target."""

    __test__ = False
    values: dict[str, int] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    verify_status: VerifyStatus = VerifyStatus.SUCCEEDED
    crash_after_call: bool = False
    # test.slow blocks on this until the test sets it (its timeout is far shorter than that)
    release: threading.Event = field(default_factory=threading.Event)


class Level(BaseModel):
    level: int = 1


def _system(ctx: RunContext) -> TestSystem:
    return ctx.services.get(TestSystem)


def _plan(ctx: RunContext, target: Target, params: Level) -> Plan:
    before = _system(ctx).values.get(target.raw, 0)
    if before == params.level:
        return Plan(summary="already there", verdict="already_at_target")
    return Plan(
        summary=f"set {target.raw} to {params.level}",
        calls=[PlannedCall("test", "Set", {"level": params.level}, before, params.level)],
    )


def _act(ctx: RunContext, target: Target, params: Level) -> RunResult:
    system = _system(ctx)
    if system.failures:
        raise system.failures.pop(0)
    before = system.values.get(target.raw, 0)
    system.values[target.raw] = params.level
    system.calls.append(f"set {target.raw}={params.level}")
    if system.crash_after_call:
        raise KeyboardInterrupt("the process died after sending the call")
    result = RunResult.changed(f"set to {params.level}")
    return RunResult(result.outcome, result.reason, {}, {"before": before})


def _verify(ctx: RunContext, target: Target, params: Level, result: RunResult) -> VerifyStatus:
    return _system(ctx).verify_status


def _rollback(ctx: RunContext, target: Target, params: Level, result: RunResult) -> RunResult:
    system = _system(ctx)
    system.values[target.raw] = int(result.rollback_state["before"])
    system.calls.append(f"rollback {target.raw}={result.rollback_state['before']}")
    return RunResult.changed("restored")


def _reconcile(ctx: RunContext, target: Target, params: Level, started_at: datetime) -> ReconcileDecision:
    applied = _system(ctx).values.get(target.raw) == params.level
    return ReconcileDecision.ALREADY_APPLIED if applied else ReconcileDecision.NOT_APPLIED


def make_registry() -> RunbookRegistry:
    registry = RunbookRegistry()
    common: dict[str, Any] = dict(
        params=Level,
        target_kind="jira:project",
        plan=_plan,
        verify=_verify,
        rollback=_rollback,
        reconcile=_reconcile,
        registry=registry,
    )

    def bump(ctx: RunContext, target: Target, params: Level) -> RunResult:
        """Set a counter (low risk, 2 runs per hour)."""
        return _act(ctx, target, params)

    def risky(ctx: RunContext, target: Target, params: Level) -> RunResult:
        """Set a counter (high risk, always asks)."""
        return _act(ctx, target, params)

    runbook(
        id="test.bump",
        title="Bump",
        risk=Risk.LOW,
        budget=Budget(2, timedelta(hours=1)),
        approval=ApprovalPolicy.never(),
        **common,
    )(bump)
    runbook(id="test.risky", title="Risky", risk=Risk.HIGH, approval=ApprovalPolicy.always(), **common)(risky)

    def slow(ctx: RunContext, target: Target, params: Level) -> RunResult:
        """Set a counter once released: it outlives its 50 ms timeout until the test says so."""
        if not _system(ctx).release.wait(timeout=30):
            raise RuntimeError("the test never released test.slow")
        return _act(ctx, target, params)

    runbook(id="test.slow", title="Slow", risk=Risk.LOW, timeout=timedelta(milliseconds=50), **common)(slow)
    return registry


@dataclass
class EngineRig:
    engine: Engine
    jobs: JobRunner
    system: TestSystem
    clock: SettableClock
    store: Store
    grants: Grants

    def who(self, name: str) -> Principal:
        """A person as the CLI's `--as` or a trusted proxy names them, with their configured role."""
        return self.grants.person(name)

    def drain(self, rounds: int = 20) -> None:
        for _ in range(rounds):
            if self.jobs.run_once("test-worker") == 0:
                return


def make_rig(store: Store, **settings: Any) -> EngineRig:
    clock = SettableClock()
    system = TestSystem()
    services = ServiceRegistry()
    services.put(TestSystem, system)
    parsed = parse_settings(
        {"runbooks": {"verify_timeout_minutes": 10, "verify_poll_seconds": 30}, **settings}, {}
    )
    deps = EngineDeps(store=store, settings=parsed, services=services, clock=clock, registry=make_registry())
    engine = Engine(deps)
    jobs = JobRunner(store=store, settings=parsed, clock=clock)
    engine.register_jobs(jobs)
    jobs.register("escalate", lambda job: None)
    jobs.register("run.event", lambda job: None)
    return EngineRig(engine, jobs, system, clock, store, Grants(parsed, {}))


@pytest.fixture
def rig(store: Store) -> EngineRig:
    return make_rig(
        store,
        approvals={
            "approvers": {"test.risky": {"users": ["alice", "bob"], "groups": ["sre"], "quorum": 2}},
            "groups": {"sre": ["carol"]},
        },
    )
