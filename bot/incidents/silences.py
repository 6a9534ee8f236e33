"""Silences: add, list, expire; and the active set the muting stage reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.config.root import Settings
from bot.config.settings import StaticSilence
from bot.errors import InvalidTransition, NotFound
from bot.incidents.muting import ActiveSilence, InhibitionRule
from bot.matching import InvalidMatcher, Matcher
from bot.store.models import Silence


def silence_json(silence: Silence, now: datetime) -> dict[str, Any]:
    active = silence.expired_at is None and silence.starts_at <= now < silence.ends_at
    return {
        "id": silence.id,
        "matchers": silence.matchers,
        "starts_at": silence.starts_at.isoformat().replace("+00:00", "Z"),
        "ends_at": silence.ends_at.isoformat().replace("+00:00", "Z"),
        "created_by": silence.created_by,
        "comment": silence.comment,
        "origin": silence.origin,
        "active": active,
        "expired_at": silence.expired_at.isoformat().replace("+00:00", "Z") if silence.expired_at else None,
    }


def add_silence(
    session: Session,
    *,
    matchers: list[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    origin: str,
    now: datetime,
) -> Silence:
    if not matchers:
        raise InvalidMatcher("a silence needs at least one matcher")
    if ends_at <= starts_at:
        raise InvalidMatcher("a silence must end after it starts")
    silence = Silence(
        matchers=[m.to_json() for m in matchers],
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by,
        comment=comment,
        created_at=now,
        origin=origin,
    )
    session.add(silence)
    session.flush()
    audit(
        session,
        at=now,
        actor=created_by,
        subject=f"silence:{silence.id}",
        action="silence.added",
        details={"matchers": silence.matchers, "ends_at": ends_at.isoformat(), "comment": comment},
    )
    return silence


def list_silences(session: Session, *, now: datetime, include_expired: bool = False) -> list[Silence]:
    query = select(Silence).order_by(Silence.id.desc())
    if not include_expired:
        query = query.where(Silence.expired_at.is_(None), Silence.ends_at > now)
    return list(session.scalars(query).all())


def expire_silence(session: Session, silence_id: int, *, actor: str, now: datetime) -> Silence:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"no silence {silence_id}")
    if silence.expired_at is not None or silence.ends_at <= now:
        raise InvalidTransition(f"silence {silence_id} has already expired")
    silence.expired_at = now
    audit(session, at=now, actor=actor, subject=f"silence:{silence_id}", action="silence.expired")
    return silence


def active_silences(session: Session, now: datetime) -> list[ActiveSilence]:
    rows = session.scalars(
        select(Silence).where(Silence.expired_at.is_(None), Silence.starts_at <= now, Silence.ends_at > now)
    ).all()
    return [
        ActiveSilence(r.id, tuple(Matcher.from_json(m) for m in r.matchers), r.starts_at, r.ends_at)
        for r in rows
    ]


def sync_config_silences(session: Session, silences: list[StaticSilence], *, now: datetime) -> int:
    """Store silences declared in config once (matched on matchers and end time)."""
    existing = {
        (repr(s.matchers), s.ends_at)
        for s in session.scalars(select(Silence).where(Silence.origin == "config"))
    }
    added = 0
    for declared in silences:
        matchers = [Matcher(m.name, m.op, m.value) for m in declared.matchers]
        ends_at = declared.ends_at
        starts_at = declared.starts_at or now
        if (repr([m.to_json() for m in matchers]), ends_at) in existing:
            continue
        add_silence(
            session,
            matchers=matchers,
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=declared.created_by,
            comment=declared.comment,
            origin="config",
            now=now,
        )
        added += 1
    return added


def inhibition_rules(settings: Settings) -> list[InhibitionRule]:
    """The `[[inhibit_rules]]` of the configuration, as the mute stage matches them."""

    def matchers(items: list[Any]) -> tuple[Matcher, ...]:
        return tuple(Matcher(m.name, m.op, m.value) for m in items)

    return [
        InhibitionRule(matchers(r.source_match), matchers(r.target_match), tuple(r.equal))
        for r in settings.inhibit_rules
    ]
