"""Circuit breakers: after N failed, ineffective or rolled-back runs of one runbook (or on one
service) within T, automatic runs in that scope pause (`circuit open`) until someone resumes them
(`conductor runbooks resume ID`, `/conductor resume ID`, the API) or the optional expiry passes.

Counting reads stored runs, and the open circuit is a row, so every replica sees the same state.
Bad runs from before the last resume do not count again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.config.policies import CircuitSettings
from bot.errors import ConductorError, NotFound
from bot.jobs import enqueue
from bot.reasons import ReasonCode
from bot.store.models import Circuit, RunbookRun

BAD_STATUSES = ("failed", "ineffective")


class CircuitReason(ReasonCode):
    OPEN = "circuit_open", "circuit open: {scope} paused (circuit #{id}: {reason}{until})"
    OPENED_BECAUSE = "circuit_bad_runs", "{count} failed or ineffective runs within {window} (runs {runs})"


class UnknownCircuitScope(ConductorError):
    """A resume for something that is neither a runbook id, `service:NAME` nor `runbook:ID`."""


@dataclass(frozen=True, slots=True)
class OpenCircuit:
    id: int
    scope: str
    reason: str
    opened_at: datetime
    expires_at: datetime | None

    def describe(self) -> str:
        until = (
            f", closes by itself at {self.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            if self.expires_at
            else ""
        )
        return CircuitReason.OPEN.say(scope=self.scope, id=self.id, reason=self.reason, until=until)


def scope_names(runbook: str, service: str) -> list[str]:
    names = [f"runbook:{runbook}"]
    if service:
        names.append(f"service:{service}")
    return names


def _is_open(row: Circuit, now: datetime) -> bool:
    return row.closed_at is None and (row.expires_at is None or row.expires_at > now)


def open_circuits(session: Session, now: datetime, scopes: list[str] | None = None) -> list[OpenCircuit]:
    query = select(Circuit).where(Circuit.closed_at.is_(None)).order_by(Circuit.id)
    if scopes is not None:
        query = query.where(Circuit.scope.in_(scopes))
    return [
        OpenCircuit(row.id, row.scope, row.reason, row.opened_at, row.expires_at)
        for row in session.scalars(query)
        if _is_open(row, now)
    ]


def circuit_for(session: Session, *, runbook: str, service: str, now: datetime) -> OpenCircuit | None:
    found = open_circuits(session, now, scope_names(runbook, service))
    return found[0] if found else None


def _last_closed(session: Session, scope: str) -> datetime | None:
    last: datetime | None = session.scalar(select(func.max(Circuit.closed_at)).where(Circuit.scope == scope))
    expired: datetime | None = session.scalar(
        select(func.max(Circuit.expires_at)).where(Circuit.scope == scope, Circuit.closed_at.is_(None))
    )
    candidates = [t for t in (last, expired) if t is not None]
    return max(candidates) if candidates else None


def record_run_outcome(
    session: Session, settings: CircuitSettings, run: RunbookRun, *, now: datetime
) -> list[Circuit]:
    """After a run ended badly: open the circuits whose scope reached `max_bad_runs`."""
    if not settings.enabled or run.status not in BAD_STATUSES:
        return []
    opened = []
    scopes = {
        "runbook": f"runbook:{run.runbook_id}",
        "service": f"service:{run.service}" if run.service else "",
    }
    for kind in settings.scopes:
        scope = scopes[kind]
        if not scope or open_circuits(session, now, [scope]):
            continue
        since = now - settings.window
        closed = _last_closed(session, scope)
        if closed is not None and closed > since:
            since = closed
        column = RunbookRun.runbook_id if kind == "runbook" else RunbookRun.service
        bad = list(
            session.scalars(
                select(RunbookRun.id)
                .where(
                    column == scope.split(":", 1)[1],
                    RunbookRun.status.in_(BAD_STATUSES),
                    RunbookRun.finished_at >= since,
                )
                .order_by(RunbookRun.id)
            )
        )
        if len(bad) < settings.max_bad_runs:
            continue
        opened.append(_open(session, settings, scope, bad, now))
    return opened


def _open(session: Session, settings: CircuitSettings, scope: str, bad: list[int], now: datetime) -> Circuit:
    reason = CircuitReason.OPENED_BECAUSE.say(
        count=len(bad), window=f"{settings.window_minutes:g} min", runs=", ".join(map(str, bad))
    )
    circuit = Circuit(
        scope=scope,
        opened_at=now,
        reason=reason,
        run_ids=bad,
        expires_at=now + settings.expiry if settings.expiry else None,
        closed_by="",
    )
    session.add(circuit)
    session.flush()
    audit(
        session,
        at=now,
        actor="system",
        subject=f"circuit:{circuit.id}",
        action="circuit.opened",
        details={"scope": scope, "reason": reason, "runs": bad, "expires_at": _iso(circuit.expires_at)},
    )
    enqueue(
        session,
        kind="circuit.event",
        payload={"circuit_id": circuit.id, "event": "opened"},
        now=now,
        dedupe_key=f"circuit.event:{circuit.id}:opened",
    )
    return circuit


def resolve_scope(name: str) -> str:
    """`aws.ecs.scale_service` → runbook:aws.ecs.scale_service; `service:orders` and `runbook:X` as is."""
    name = name.strip()
    if not name:
        raise UnknownCircuitScope("name a runbook id, runbook:ID or service:NAME")
    kind, sep, rest = name.partition(":")
    if sep and kind in ("runbook", "service") and rest:
        return name
    if sep:
        raise UnknownCircuitScope(f"{name!r}: use a runbook id, runbook:ID or service:NAME")
    return f"runbook:{name}"


def resume(session: Session, name: str, *, actor: str, now: datetime) -> list[Circuit]:
    """Close the open circuit(s) of a scope, audited; NotFound when none is open."""
    scope = resolve_scope(name)
    rows = [
        row
        for row in session.scalars(select(Circuit).where(Circuit.scope == scope, Circuit.closed_at.is_(None)))
        if _is_open(row, now)
    ]
    if not rows:
        raise NotFound(f"no open circuit for {scope}")
    for row in rows:
        row.closed_at = now
        row.closed_by = actor
        audit(
            session,
            at=now,
            actor=actor,
            subject=f"circuit:{row.id}",
            action="circuit.closed",
            details={"scope": scope},
        )
        enqueue(
            session,
            kind="circuit.event",
            payload={"circuit_id": row.id, "event": "closed"},
            now=now,
            dedupe_key=f"circuit.event:{row.id}:closed",
        )
    return rows


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def circuit_json(row: Circuit, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "scope": row.scope,
        "open": _is_open(row, now),
        "reason": row.reason,
        "runs": row.run_ids,
        "opened_at": _iso(row.opened_at),
        "expires_at": _iso(row.expires_at),
        "closed_at": _iso(row.closed_at),
        "closed_by": row.closed_by,
    }


def list_circuits(session: Session, *, now: datetime, include_closed: bool = False) -> list[Circuit]:
    query = select(Circuit).order_by(Circuit.id.desc())
    if not include_closed:
        query = query.where(or_(Circuit.closed_at.is_(None)))
    rows = list(session.scalars(query.limit(200)))
    return rows if include_closed else [r for r in rows if _is_open(r, now)]
