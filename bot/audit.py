"""The audit log: every state change appends one record. Nothing here updates or deletes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.logs import redact_value, request_id_var
from bot.store.models import AuditRecord

SYSTEM = "system"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    subject: str
    action: str
    details: dict[str, Any]
    request_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "actor": self.actor,
            "subject": self.subject,
            "action": self.action,
            "details": self.details,
            "request_id": self.request_id,
        }


def audit(
    session: Session,
    *,
    at: datetime,
    actor: str,
    subject: str,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one record in the caller's transaction (so it commits with the change it describes)."""
    session.add(
        AuditRecord(
            at=at,
            actor=actor or SYSTEM,
            subject=subject,
            action=action,
            details=redact_value("details", details or {}),
            request_id=request_id_var.get(),
        )
    )


def list_audit(
    session: Session,
    *,
    since: datetime | None = None,
    subject: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
    newest_first: bool = False,
) -> list[AuditEntry]:
    query = select(AuditRecord)
    if since is not None:
        query = query.where(AuditRecord.at >= since)
    if subject:
        query = query.where(AuditRecord.subject == subject)
    if after_id is not None:
        query = query.where(AuditRecord.id > after_id)
    order = AuditRecord.id.desc() if newest_first else AuditRecord.id.asc()
    rows = session.scalars(query.order_by(order).limit(limit)).all()
    return [
        AuditEntry(r.id, r.at, r.actor, r.subject, r.action, dict(r.details or {}), r.request_id)
        for r in rows
    ]
