"""Silences and inhibition: why an alert is muted. Muted alerts are stored, never dropped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.alerts.normalized import NormalizedAlert
from bot.matching import Matcher, alert_fields, all_match
from bot.reasons import ReasonCode


class MuteReason(ReasonCode):
    """Why an alert is muted; the message is what `alerts.muted_reason` stores (`code:by-whom`)."""

    SILENCED = "silenced", "silenced:{by}"  # by: the silence id
    INHIBITED = "inhibited", "inhibited:{by}"  # by: the firing alert that inhibits it
    MAINTENANCE = "maintenance", "maintenance:{by}"  # by: the maintenance window (freeze) id


@dataclass(frozen=True, slots=True)
class ActiveSilence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class InhibitionRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FiringAlert:
    """A stored firing alert, as inhibition sees it."""

    fingerprint: str
    fields: dict[str, str]


def silenced_by(alert: NormalizedAlert, silences: Iterable[ActiveSilence], now: datetime) -> int | None:
    fields = alert_fields(alert)
    for silence in silences:
        if silence.active(now) and all_match(silence.matchers, fields):
            return silence.id
    return None


def inhibited_by(
    alert: NormalizedAlert, rules: Sequence[InhibitionRule], firing: Sequence[FiringAlert]
) -> str | None:
    """The fingerprint of a firing source alert that mutes `alert`, if any."""
    if not rules:
        return None
    fields = alert_fields(alert)
    for rule in rules:
        if not all_match(rule.target, fields):
            continue
        for source in firing:
            if source.fingerprint == alert.fingerprint:
                continue
            if not all_match(rule.source, source.fields):
                continue
            if all(source.fields.get(f"label:{k}", "") == fields.get(f"label:{k}", "") for k in rule.equal):
                return source.fingerprint
    return None
