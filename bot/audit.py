"""The audit log: every state change appends one record. Nothing here updates or deletes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
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
    session.add(AuditRecord(**audit_row(at=at, actor=actor, subject=subject, action=action, details=details)))


def audit_row(
    *, at: datetime, actor: str, subject: str, action: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The column values of one audit record: the one place that fills in the actor, redacts the
    details and stamps the request id. `audit` adds it through the ORM; batch writers collect
    these and write them with `insert_audit_rows`."""
    return {
        "at": at,
        "actor": actor or SYSTEM,
        "subject": subject,
        "action": action,
        "details": redact_value("details", details or {}),
        "request_id": request_id_var.get(),
    }


def insert_audit_rows(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write `audit_row` values in one multi-row INSERT, in the order given, in the caller's transaction."""
    if rows:
        connection.execute(insert(AuditRecord), list(rows))


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
