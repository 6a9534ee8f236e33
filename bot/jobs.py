"""Persisted work items that workers claim with row locks (SKIP LOCKED on PostgreSQL;
SQLite serializes writers, so an UPDATE ... WHERE claim is enough)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.claims import claimable
from bot.store.models import Job


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    run_after: datetime | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Add a job in the caller's transaction. A `dedupe_key` already present is a no-op."""
    values = job_row(kind=kind, payload=payload, now=now, run_after=run_after, dedupe_key=dedupe_key)
    dialect = session.get_bind().dialect.name
    if dedupe_key is not None and dialect in ("sqlite", "postgresql"):
        upsert = sqlite_insert if dialect == "sqlite" else pg_insert
        session.execute(upsert(Job).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    else:
        session.add(Job(**values))


def job_row(
    *,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    run_after: datetime | None = None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """The column values of a new, pending job: the one place that says what a new job looks like.
    `enqueue` writes one; batch writers collect these and write them with `insert_job_rows`."""
    return {
        "kind": kind,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": "pending",
        "run_after": run_after or now,
        "created_at": now,
        "attempts": 0,
        "last_error": "",
    }


def insert_job_rows(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write `job_row` values (without dedupe keys) in one multi-row INSERT, in the order given."""
    if rows:
        connection.execute(insert(Job), list(rows))


def claim(
    session: Session,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    kinds: Sequence[str] | None = None,
) -> list[ClaimedJob]:
    """Claim due jobs that nobody holds (or whose holder's lease ran out)."""
    query = (
        select(Job)
        .where(Job.status == "pending", Job.run_after <= now)
        .where(claimable(Job, now, worker))
        .order_by(Job.run_after, Job.id)
        .limit(limit)
    )
    if kinds:
        query = query.where(Job.kind.in_(list(kinds)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    jobs = session.scalars(query).all()
    claimed = []
    for job in jobs:
        job.claimed_by = worker
        job.claimed_until = now + lease
        job.attempts += 1
        claimed.append(ClaimedJob(job.id, job.kind, dict(job.payload or {}), job.attempts))
    return claimed


def complete(session: Session, job_id: int, *, now: datetime) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status="done", finished_at=now, claimed_by=None, claimed_until=None)
    )


def retry_later(session: Session, job_id: int, *, error: str, run_after: datetime, give_up: bool) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            status="failed" if give_up else "pending",
            last_error=error[:4000],
            run_after=run_after,
            claimed_by=None,
            claimed_until=None,
        )
    )


def defer(session: Session, job_id: int, *, run_after: datetime) -> None:
    """Put a job back without counting the attempt: it waited for another worker, it did not fail."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            status="pending",
            run_after=run_after,
            attempts=Job.attempts - 1,
            claimed_by=None,
            claimed_until=None,
        )
    )


def pending_count(session: Session) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(Job).where(Job.status == "pending")) or 0)
