"""`RunbookHarness`: one runbook's plan, act, verify and rollback, run as the engine runs them.

No store, no workers, no sleeping: verification is polled by moving the harness's clock forward,
and every step's answer is returned for the test to assert on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.config.root import Settings
from bot.engine.deps import parse_for
from bot.engine.services import build_services
from bot.errors import ConductorError
from bot.runbook_kit.loader import RunbookLoadError, load_runbook_file
from bot.runbook_kit.spec import (
    REGISTRY,
    IncidentContext,
    Plan,
    RunbookRegistry,
    RunbookSpec,
    RunContext,
    RunResult,
    Services,
    VerifyStatus,
)
from bot.runbook_kit.targets import Target
from integrations.aws.settings import AwsSettings


class HarnessError(ConductorError):
    """The harness was asked for something the runbook cannot do (no rollback, no runbook...)."""


@dataclass
class HandClock:
    """The time the runbook sees; the harness moves it forward while polling `verify`."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass(frozen=True)
class CheckReport:
    """What `RunbookHarness.check` saw at each step (None: the step was not reached)."""

    plan: Plan
    result: RunResult | None = None
    verify: VerifyStatus | None = None
    rollback: RunResult | None = None


def load_runbook_module(path: Path | str, *, registry: RunbookRegistry = REGISTRY) -> list[RunbookSpec[Any]]:
    """Import a runbook module by file path (as `[runbooks] directories` does) and return the
    runbooks it registered (also when it was imported before)."""
    file = Path(path).expanduser().resolve()
    if not file.is_file() or file.suffix != ".py":
        raise RunbookLoadError(file, "not a Python file")
    load_runbook_file(file)
    specs = [s for s in registry.all() if _defined_in(s, file)]
    if not specs:
        raise RunbookLoadError(file, "the module registers no runbook (no @runbook function)")
    return specs


def _defined_in(spec: RunbookSpec[Any], file: Path) -> bool:
    code = getattr(spec.act, "__code__", None)
    return code is not None and Path(code.co_filename).resolve() == file


def test_settings() -> Settings:
    """Settings for tests: one attempt per AWS call (failure paths must not wait for back-offs)."""
    return Settings(aws=AwsSettings(max_attempts=1))


class RunbookHarness:
    """Run one runbook's plan / act / verify / rollback against the services it is given.

    `services` defaults to the real integration clients built from `settings` (by default
    `test_settings()`), so AWS calls go wherever boto3 is pointed (`AWS_ENDPOINT_URL`: moto).
    """

    def __init__(
        self,
        runbook: str | Path | RunbookSpec[Any],
        *,
        settings: Settings | None = None,
        services: Services | None = None,
        clock: HandClock | None = None,
        incident: IncidentContext | None = None,
        registry: RunbookRegistry = REGISTRY,
    ) -> None:
        self.spec = self._resolve(runbook, registry)
        self.settings = settings or test_settings()
        self.services = services if services is not None else build_services(self.settings)
        self.clock = clock or HandClock()
        self.incident = incident
        self._runs = 0

    @staticmethod
    def _resolve(runbook: str | Path | RunbookSpec[Any], registry: RunbookRegistry) -> RunbookSpec[Any]:
        if isinstance(runbook, RunbookSpec):
            return runbook
        if isinstance(runbook, Path) or str(runbook).endswith(".py"):
            specs = load_runbook_module(runbook, registry=registry)
            if len(specs) > 1:
                ids = ", ".join(s.id for s in specs)
                raise HarnessError(f"{runbook} registers several runbooks ({ids}): pass the id")
            return specs[0]
        spec = registry.get(str(runbook))
        if spec is None:
            raise HarnessError(f"no runbook named {runbook!r} is registered (import its module first)")
        return spec

    def context(self, run_id: str | None = None) -> RunContext:
        if run_id is None:
            self._runs += 1
            run_id = f"test-{self._runs}"
        return RunContext(run_id=run_id, services=self.services, clock=self.clock, incident=self.incident)

    def parse(self, target: str, params: Mapping[str, Any] | None = None) -> tuple[Target, BaseModel]:
        """The target and the validated params, refused exactly as the engine refuses them."""
        return parse_for(self.spec, target, dict(params or {}))

    def plan(self, target: str, params: Mapping[str, Any] | None = None) -> Plan:
        parsed, model = self.parse(target, params)
        return self.spec.plan(self.context("plan"), parsed, model)

    def execute(self, target: str, params: Mapping[str, Any] | None = None) -> RunResult:
        parsed, model = self.parse(target, params)
        return self.spec.act(self.context(), parsed, model)

    def verify(
        self,
        target: str,
        params: Mapping[str, Any] | None,
        result: RunResult,
        *,
        poll: timedelta = timedelta(seconds=15),
        max_polls: int = 40,
    ) -> VerifyStatus:
        """Poll `verify` until it is not PENDING, moving the clock by `poll` between polls.
        A runbook without `verify` counts as verified (as in the engine)."""
        if self.spec.verify is None:
            return VerifyStatus.SUCCEEDED
        parsed, model = self.parse(target, params)
        status = VerifyStatus.PENDING
        for _ in range(max_polls):
            status = self.spec.verify(self.context("verify"), parsed, model, result)
            if status is not VerifyStatus.PENDING:
                return status
            self.clock.advance(poll)
        return status

    def rollback(self, target: str, params: Mapping[str, Any] | None, result: RunResult) -> RunResult:
        if self.spec.rollback is None:
            raise HarnessError(f"{self.spec.id} has no rollback")
        parsed, model = self.parse(target, params)
        return self.spec.rollback(self.context("rollback"), parsed, model, result)

    def check(
        self, target: str, params: Mapping[str, Any] | None = None, *, roll_back: bool = True
    ) -> CheckReport:
        """Plan, execute, verify and (when the runbook has one and `roll_back`) roll back."""
        plan = self.plan(target, params)
        if plan.is_noop:
            return CheckReport(plan=plan)
        result = self.execute(target, params)
        verified = self.verify(target, params, result)
        rolled = None
        if roll_back and self.spec.rollback is not None:
            rolled = self.rollback(target, params, result)
        return CheckReport(plan=plan, result=result, verify=verified, rollback=rolled)
