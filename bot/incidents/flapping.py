"""Flap detection: N status changes within T mark an alert flapping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class FlapState:
    changes: list[datetime]  # recent status changes, oldest first, within the window
    flapping: bool


def record_change(previous: list[datetime], at: datetime, *, threshold: int, window: timedelta) -> FlapState:
    recent = [t for t in previous if at - t <= window]
    recent.append(at)
    recent = recent[-max(threshold, 2) * 2 :]
    return FlapState(changes=recent, flapping=len([t for t in recent if at - t <= window]) >= threshold)


def still_flapping(changes: list[datetime], now: datetime, *, threshold: int, window: timedelta) -> bool:
    return len([t for t in changes if now - t <= window]) >= threshold
