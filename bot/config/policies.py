"""`[[freezes]]`, `[caps]` and `[circuit_breaker]`: the policies' configuration."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field, model_validator

from bot.config.settings import Section, TimeZoneName

SCOPE_FIELDS = ("service", "provider", "resource", "runbook")
CircuitScope = Literal["runbook", "service"]
CIRCUIT_SCOPES: tuple[CircuitScope, ...] = ("runbook", "service")


class ScopeMatch(Section):
    """One matcher of a policy's scope: `name` is service, provider, resource or runbook;
    `op` is = != =~ !~ (regexes are RE2 and match the whole value)."""

    name: Literal["service", "provider", "resource", "runbook"]
    op: Literal["=", "!=", "=~", "!~"] = "="
    value: str


class FreezeSettings(Section):
    """A change freeze (or maintenance window) declared in config; stored at start-up by name.

    One-off: `starts_at` (default: now) and `ends_at`. Recurring: `cron` (5 fields, e.g.
    "0 22 * * FRI") with `duration_minutes` in `timezone`. Empty `match`: everything.
    """

    name: str = Field(min_length=1, max_length=200)
    match: list[ScopeMatch] = Field(default_factory=list)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    cron: str | None = None
    duration_minutes: float | None = Field(default=None, gt=0, le=60 * 24 * 31)
    timezone: TimeZoneName = "UTC"
    # false: automatic runs in scope need approval; true: no automatic runs in scope at all.
    block: bool = False
    # true: alerts in scope are marked "maintenance" (kept and visible, but open no incident or page).
    maintenance: bool = False
    comment: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> FreezeSettings:
        if self.cron is not None:
            if self.ends_at is not None or self.starts_at is not None:
                raise ValueError("a recurring freeze (cron) takes duration_minutes, not starts_at/ends_at")
            if self.duration_minutes is None:
                raise ValueError("a recurring freeze (cron) needs duration_minutes")
            _check_cron(self.cron, self.timezone)
        else:
            if self.ends_at is None:
                raise ValueError("a one-off freeze needs ends_at (or use cron + duration_minutes)")
            if self.starts_at is not None and self.starts_at >= self.ends_at:
                raise ValueError("starts_at must be before ends_at")
        return self


def _check_cron(expression: str, timezone: str) -> None:
    """Raise ValueError naming the problem when `expression` is not a 5-field crontab."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))
    except ValueError as exc:
        raise ValueError(f"cron {expression!r}: {exc}") from None


class RunbookCaps(Section):
    max_concurrent: int | None = Field(default=None, ge=1)
    max_targets_per_hour: int | None = Field(default=None, ge=1)


class CapSettings(Section):
    """Blast-radius caps, counted in the database so they hold across replicas. 0: no cap."""

    max_concurrent: int = Field(default=0, ge=0)  # runs acting at once, overall
    max_concurrent_per_runbook: int = Field(default=0, ge=0)
    max_concurrent_per_service: int = Field(default=0, ge=0)
    # Distinct targets one runbook may change in an hour.
    max_targets_per_runbook_per_hour: int = Field(default=0, ge=0)
    runbooks: dict[str, RunbookCaps] = Field(default_factory=dict)  # per-runbook overrides
    # A run over a cap: "queue" waits (visible, status `queued`) until a slot frees;
    # "approval" asks a human, whose approval lets it exceed the cap.
    on_exceed: Literal["queue", "approval"] = "queue"
    # A queued run still waiting after this long is cancelled (and escalated).
    queue_timeout_minutes: float = Field(default=60.0, gt=0)

    def per_runbook(self, runbook_id: str) -> tuple[int, int]:
        """(max concurrent, max distinct targets per hour) for `runbook_id`; 0 is no cap."""
        own = self.runbooks.get(runbook_id)
        concurrent = own.max_concurrent if own and own.max_concurrent else self.max_concurrent_per_runbook
        targets = (
            own.max_targets_per_hour
            if own and own.max_targets_per_hour
            else self.max_targets_per_runbook_per_hour
        )
        return concurrent, targets


class CircuitSettings(Section):
    """After `max_bad_runs` failed, ineffective or rolled-back runs of one runbook (or on one
    service) within `window_minutes`, automatic runs in that scope pause until resumed."""

    enabled: bool = True
    max_bad_runs: int = Field(default=3, ge=1)
    window_minutes: float = Field(default=60.0, gt=0)
    scopes: list[CircuitScope] = Field(default_factory=lambda: list(CIRCUIT_SCOPES))
    # 0: stays open until someone resumes it; else it closes by itself after this long.
    expiry_minutes: float = Field(default=0.0, ge=0)

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def expiry(self) -> timedelta | None:
        return timedelta(minutes=self.expiry_minutes) if self.expiry_minutes else None
