"""Change freezes and maintenance windows: stored, listed, ended (all audited), and the set in force.

A freeze in force over a run's scope turns an automatic run into an approval (or blocks it when
`block`); a maintenance window (`maintenance = true`) also marks the alerts of its scope, which
are kept and shown but open no incident and page nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.alerts.normalized import NormalizedAlert
from bot.audit import audit
from bot.config.policies import FreezeSettings
from bot.errors import InvalidTransition, NotFound
from bot.matching import Matcher
from bot.policies.scope import Scope, alert_scope, describe, matches_scope, scope_matchers, to_json
from bot.policies.windows import next_window_start, recurring_window
from bot.store.models import Freeze


@dataclass(frozen=True, slots=True)
class ActiveFreeze:
    id: int
    name: str
    matchers: tuple[Matcher, ...]
    block: bool
    maintenance: bool
    until: datetime

    def applies_to(self, scope: Scope) -> bool:
        return matches_scope(self.matchers, scope)

    def describe(self) -> str:
        until = self.until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f'change freeze "{self.name}" (#{self.id}, until {until})'


def window_at(freeze: Freeze, now: datetime) -> tuple[datetime, datetime] | None:
    """The window of `freeze` in force at `now`, or None (ended, not started, between windows)."""
    if freeze.ended_at is not None and freeze.ended_at <= now:
        return None
    if freeze.cron:
        minutes = freeze.duration_minutes or 0
        return recurring_window(freeze.cron, freeze.timezone, timedelta(minutes=minutes), now)
    if freeze.ends_at is None:
        return None
    starts = freeze.starts_at or freeze.created_at
    return (starts, freeze.ends_at) if starts <= now < freeze.ends_at else None


def active_freezes(session: Session, now: datetime) -> list[ActiveFreeze]:
    rows = session.scalars(select(Freeze).where(Freeze.ended_at.is_(None)).order_by(Freeze.id))
    out = []
    for row in rows:
        window = window_at(row, now)
        if window is not None:
            out.append(
                ActiveFreeze(
                    id=row.id,
                    name=row.name,
                    matchers=scope_matchers(row.matchers),
                    block=row.block,
                    maintenance=row.maintenance,
                    until=window[1],
                )
            )
    return out


def freeze_for(freezes: list[ActiveFreeze], scope: Scope) -> ActiveFreeze | None:
    """The freeze that governs `scope`: a blocking one before one that asks for approval."""
    hits = [f for f in freezes if f.applies_to(scope)]
    hits.sort(key=lambda f: (not f.block, f.id))
    return hits[0] if hits else None


def in_maintenance(alert: NormalizedAlert, windows: Sequence[ActiveFreeze]) -> ActiveFreeze | None:
    """The maintenance window whose scope holds `alert` (runbook-scoped windows hold no alert)."""
    scope = alert_scope(alert)
    for window in windows:
        if window.maintenance and window.applies_to(scope):
            return window
    return None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def freeze_json(freeze: Freeze, now: datetime) -> dict[str, Any]:
    window = window_at(freeze, now)
    upcoming = None
    if freeze.cron and freeze.ended_at is None and window is None:
        upcoming = next_window_start(freeze.cron, freeze.timezone, now)
    return {
        "id": freeze.id,
        "name": freeze.name,
        "match": freeze.matchers,
        "scope": describe(scope_matchers(freeze.matchers)),
        "starts_at": _iso(freeze.starts_at),
        "ends_at": _iso(freeze.ends_at),
        "cron": freeze.cron,
        "duration_minutes": freeze.duration_minutes,
        "timezone": freeze.timezone,
        "block": freeze.block,
        "maintenance": freeze.maintenance,
        "comment": freeze.comment,
        "created_by": freeze.created_by,
        "origin": freeze.origin,
        "active": window is not None,
        "active_until": _iso(window[1]) if window else None,
        "next_window_at": _iso(upcoming),
        "ended_at": _iso(freeze.ended_at),
        "ended_by": freeze.ended_by,
    }


def add_freeze(
    session: Session, declared: FreezeSettings, *, created_by: str, origin: str, now: datetime
) -> Freeze:
    """Store a freeze (the settings model has validated it) and audit it."""
    matchers = scope_matchers(declared.match)
    freeze = Freeze(
        name=declared.name,
        matchers=to_json(matchers),
        starts_at=(declared.starts_at or now) if declared.cron is None else None,
        ends_at=declared.ends_at,
        cron=declared.cron,
        duration_minutes=declared.duration_minutes,
        timezone=declared.timezone,
        block=declared.block,
        maintenance=declared.maintenance,
        comment=declared.comment,
        created_by=created_by,
        created_at=now,
        ended_by="",
        origin=origin,
    )
    session.add(freeze)
    session.flush()
    audit(
        session,
        at=now,
        actor=created_by,
        subject=f"freeze:{freeze.id}",
        action="freeze.added",
        details={k: v for k, v in freeze_json(freeze, now).items() if k not in ("id", "active_until")},
    )
    return freeze


def list_freezes(session: Session, *, now: datetime, include_ended: bool = False) -> list[Freeze]:
    rows = list(session.scalars(select(Freeze).order_by(Freeze.id.desc())))
    if include_ended:
        return rows
    return [
        r
        for r in rows
        if r.ended_at is None and (r.cron is not None or (r.ends_at is not None and r.ends_at > now))
    ]


def end_freeze(session: Session, freeze_id: int, *, actor: str, now: datetime) -> Freeze:
    freeze = session.get(Freeze, freeze_id)
    if freeze is None:
        raise NotFound(f"no freeze {freeze_id}")
    if freeze.ended_at is not None or (
        freeze.cron is None and freeze.ends_at is not None and freeze.ends_at <= now
    ):
        raise InvalidTransition(f"freeze {freeze_id} has already ended")
    freeze.ended_at = now
    freeze.ended_by = actor
    audit(
        session,
        at=now,
        actor=actor,
        subject=f"freeze:{freeze.id}",
        action="freeze.ended",
        details={"name": freeze.name},
    )
    return freeze


def sync_config_freezes(session: Session, declared: list[FreezeSettings], *, now: datetime) -> int:
    """Store the `[[freezes]]` of the config by name: a new name is added; a changed definition
    replaces the stored one (ending it); an unchanged one is left as it is (even if ended)."""
    stored = {
        f.name: f
        for f in session.scalars(select(Freeze).where(Freeze.origin == "config").order_by(Freeze.id))
    }
    added = 0
    for item in declared:
        current = stored.get(item.name)
        if current is not None and _same(current, item):
            continue
        if current is not None and current.ended_at is None:
            end_freeze(session, current.id, actor="config", now=now)
        add_freeze(session, item, created_by="config", origin="config", now=now)
        added += 1
    return added


def _same(row: Freeze, item: FreezeSettings) -> bool:
    return (
        row.matchers == to_json(scope_matchers(item.match))
        and row.cron == item.cron
        and row.duration_minutes == item.duration_minutes
        and row.timezone == item.timezone
        and row.block == item.block
        and row.maintenance == item.maintenance
        and row.ends_at == item.ends_at
        and (item.starts_at is None or row.starts_at == item.starts_at)
    )
