"""What people are told when a circuit breaker opens or closes (Slack and PagerDuty render it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.store.models import Circuit


@dataclass(frozen=True, slots=True)
class CircuitNews:
    id: int
    scope: str
    event: str  # opened | closed
    reason: str
    closed_by: str

    @property
    def dedup_key(self) -> str:
        return f"conductor-circuit-{self.id}"

    @property
    def text(self) -> str:
        if self.event == "opened":
            return (
                f"circuit open: automatic runs of {self.scope} are paused ({self.reason}). "
                f"Resume with `conductor runbooks resume {self.scope}` or `/conductor resume {self.scope}`."
            )
        by = f" by {self.closed_by}" if self.closed_by else ""
        return f"circuit closed: automatic runs of {self.scope} resumed{by}."


def circuit_news(session: Session, circuit_id: int, event: str) -> CircuitNews | None:
    row = session.get(Circuit, circuit_id)
    if row is None:
        return None
    return CircuitNews(row.id, row.scope, event, row.reason, row.closed_by)
