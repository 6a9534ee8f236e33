"""The store on both backends: migrations, constraints that carry correctness, append-only audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.audit import audit, list_audit
from bot.jobs import claim, complete, enqueue
from bot.store import migrate
from bot.store.db import Store
from bot.store.models import AuditRecord, Incident, Job, RunbookRun

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_migrations_are_current(store: Store) -> None:
    assert migrate.current_revision(store) == migrate.head_revision()
    assert migrate.is_current(store)


def test_upgrade_twice_is_a_no_op(store: Store) -> None:
    migrate.upgrade(store)
    assert migrate.is_current(store)


def _incident(key: str | None, group: str = "g") -> Incident:
    return Incident(group_key=group, open_group_key=key, title="t", opened_at=NOW, updated_at=NOW)


def test_one_open_incident_per_group(store: Store) -> None:
    with store.transaction() as session:
        session.add(_incident("g"))
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(_incident("g"))
    # resolved incidents (open_group_key NULL) never collide
    with store.transaction() as session:
        session.add_all([_incident(None), _incident(None)])
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 3


def _run(active: str | None) -> RunbookRun:
    return RunbookRun(
        runbook_id="aws.ecs.scale_service",
        target="aws:ecs:service/c/s",
        active_target=active,
        status="running",
        created_at=NOW,
        updated_at=NOW,
    )


def test_one_active_run_per_target(store: Store) -> None:
    with store.transaction() as session:
        session.add(_run("aws:ecs:service/c/s"))
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(_run("aws:ecs:service/c/s"))
    with store.transaction() as session:
        session.add(_run(None))


def test_audit_log_is_append_only(store: Store) -> None:
    with store.transaction() as session:
        audit(
            session,
            at=NOW,
            actor="alice",
            subject="incident:1",
            action="incident.acknowledged",
            details={"token": "xoxb-secret-value", "note": "ok"},
        )
    with store.sessions() as session:
        [entry] = list_audit(session, subject="incident:1")
    assert entry.actor == "alice"
    assert entry.details == {"token": "[REDACTED]", "note": "ok"}
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
            connection.execute(text(statement))
    with store.sessions() as session:
        assert session.scalar(select(AuditRecord.actor)) == "alice"


def test_jobs_are_claimed_once_and_dedupe_keys_hold(store: Store) -> None:
    with store.transaction() as session:
        enqueue(session, kind="k", payload={"n": 1}, now=NOW, dedupe_key="once")
        enqueue(session, kind="k", payload={"n": 2}, now=NOW, dedupe_key="once")
        enqueue(session, kind="k", payload={"n": 3}, now=NOW, run_after=NOW + timedelta(hours=1))
    with store.transaction() as session:
        first = claim(session, worker="a", now=NOW, lease=timedelta(minutes=1), limit=10)
    with store.transaction() as session:
        second = claim(session, worker="b", now=NOW, lease=timedelta(minutes=1), limit=10)
    assert [j.payload for j in first] == [{"n": 1}]
    assert second == []
    # the holder died: after its lease another worker takes the job over
    with store.transaction() as session:
        taken_over = claim(
            session, worker="b", now=NOW + timedelta(minutes=2), lease=timedelta(minutes=1), limit=10
        )
    assert [j.id for j in taken_over] == [first[0].id]
    assert taken_over[0].attempts == 2
    with store.transaction() as session:
        complete(session, first[0].id, now=NOW)
    with store.sessions() as session:
        assert session.scalar(select(Job.status).where(Job.id == first[0].id)) == "done"
