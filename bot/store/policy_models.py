"""Tables of the safety policies (docs/policies.md): change freezes, circuit breakers, and the
row the blast-radius caps lock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base, JSONType, UTCDateTime


class Freeze(Base):
    """A change freeze or maintenance window: one-off (`starts_at`..`ends_at`) or recurring
    (`cron` + `duration_minutes` in `timezone`). `ended_at` ends it early (or for good)."""

    __tablename__ = "freezes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cron: Mapped[str | None] = mapped_column(String(100), nullable=True)
    duration_minutes: Mapped[float | None] = mapped_column(nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    block: Mapped[bool] = mapped_column(default=False)
    maintenance: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_by: Mapped[str] = mapped_column(String(200), default="")
    origin: Mapped[str] = mapped_column(String(20), default="api")  # config|api|cli|slack


class Circuit(Base):
    """An open (or closed) circuit breaker: automatic runs in `scope` ("runbook:ID" or
    "service:NAME") pause while it is open."""

    __tablename__ = "circuits"
    __table_args__ = (Index("ix_circuits_scope_closed_at", "scope", "closed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(300))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")
    run_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)  # the bad runs that opened it
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[str] = mapped_column(String(200), default="")


class PolicyLock(Base):
    """Rows locked (SELECT ... FOR UPDATE) to serialize cap admissions across replicas."""

    __tablename__ = "policy_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
