"""Freezes in the store (both backends): add, list, end, config sync, audit; maintenance windows mark
alerts instead of opening incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource
from bot.audit import list_audit
from bot.config.policies import FreezeSettings
from bot.config.settings import IncidentSettings
from bot.errors import InvalidTransition, NotFound
from bot.incidents.apply import MutingContext, apply_alerts
from bot.policies.freeze_input import InvalidFreeze, freeze_from_options
from bot.policies.freezes import (
    active_freezes,
    add_freeze,
    end_freeze,
    freeze_for,
    freeze_json,
    list_freezes,
    sync_config_freezes,
)
from bot.policies.scope import run_scope
from bot.store.db import Store
from bot.store.models import Alert, Incident

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def one_off(name: str, *matchers: str, hours: float = 2, **kw: bool) -> FreezeSettings:
    return freeze_from_options(name=name, matchers=matchers, now=NOW, duration=f"{hours}h", **kw)


def test_add_list_end_and_audit(store: Store) -> None:
    with store.transaction() as session:
        freeze = add_freeze(
            session, one_off("release", "service=orders"), created_by="cli:ana", origin="cli", now=NOW
        )
        freeze_id = freeze.id
    with store.transaction() as session:
        [shown] = [freeze_json(f, NOW) for f in list_freezes(session, now=NOW)]
        assert shown["active"] and shown["scope"] == 'service="orders"'
        assert shown["active_until"] == "2026-12-03T10:00:00Z"
        end_freeze(session, freeze_id, actor="api:bot", now=NOW + timedelta(minutes=5))
    with store.transaction() as session:
        assert list_freezes(session, now=NOW + timedelta(minutes=6)) == []
        assert active_freezes(session, NOW + timedelta(minutes=6)) == []
        with pytest.raises(InvalidTransition, match="already ended"):
            end_freeze(session, freeze_id, actor="x", now=NOW)
        with pytest.raises(NotFound):
            end_freeze(session, 999, actor="x", now=NOW)
        actions = [(r.action, r.actor) for r in list_audit(session, subject=f"freeze:{freeze_id}")]
    assert ("freeze.added", "cli:ana") in actions and ("freeze.ended", "api:bot") in actions


def test_scope_decides_which_freeze_governs_a_run(store: Store) -> None:
    with store.transaction() as session:
        add_freeze(session, one_off("orders", "service=orders"), created_by="t", origin="api", now=NOW)
        add_freeze(
            session,
            one_off("no ecs", r"runbook=~aws\.ecs\..*", block=True),
            created_by="t",
            origin="api",
            now=NOW,
        )
        freezes = active_freezes(session, NOW + timedelta(minutes=1))
    orders_ecs = run_scope(
        runbook="aws.ecs.scale_service", target="aws:ecs:service/prod/orders", service="orders"
    )
    orders_glue = run_scope(
        runbook="aws.glue.restart_failed_job", target="aws:glue:job/etl", service="orders"
    )
    billing_glue = run_scope(
        runbook="aws.glue.restart_failed_job", target="aws:glue:job/etl", service="billing"
    )
    found = freeze_for(freezes, orders_ecs)
    assert found is not None and found.name == "no ecs"  # the blocking one wins
    found = freeze_for(freezes, orders_glue)
    assert found is not None and found.name == "orders"
    assert freeze_for(freezes, billing_glue) is None


def test_config_freezes_are_stored_once_and_replaced_when_changed(store: Store) -> None:
    declared = [
        FreezeSettings(name="weekend", cron="0 18 * * FRI", duration_minutes=3840, timezone="Europe/Paris")
    ]
    with store.transaction() as session:
        assert sync_config_freezes(session, declared, now=NOW) == 1
    with store.transaction() as session:
        assert sync_config_freezes(session, declared, now=NOW) == 0
        changed = [declared[0].model_copy(update={"block": True})]
        assert sync_config_freezes(session, changed, now=NOW) == 1
    with store.transaction() as session:
        rows = list_freezes(session, now=NOW, include_ended=True)
        assert [(r.name, r.block, r.ended_at is None) for r in rows] == [
            ("weekend", True, True),
            ("weekend", False, False),
        ]


def test_bad_input_is_refused_and_stores_nothing(store: Store) -> None:
    with pytest.raises(InvalidFreeze, match="scope is one of"):
        one_off("x", "team=a")
    with pytest.raises(InvalidFreeze, match="--duration or --until"):
        freeze_from_options(name="x", matchers=[], now=NOW)
    with pytest.raises(InvalidFreeze, match="timezone"):
        freeze_from_options(
            name="x", matchers=[], now=NOW, cron="0 1 * * *", window="1h", timezone="Nowhere/X"
        )
    with store.sessions() as session:
        assert list_freezes(session, now=NOW, include_ended=True) == []


def _alert(service: str) -> NormalizedAlert:
    return NormalizedAlert(
        source="generic",
        fingerprint=f"fp-{service}",
        name="HighLatency",
        status=AlertStatus.FIRING,
        labels={"service": service},
        resource=Resource(provider=Provider.AWS, type="ecs:service", id=f"prod/{service}"),
    )


def test_a_maintenance_window_marks_alerts_keeps_them_and_opens_nothing(store: Store) -> None:
    with store.transaction() as session:
        window = add_freeze(
            session,
            one_off("db upgrade", "service=orders", maintenance=True),
            created_by="t",
            origin="api",
            now=NOW,
        )
        plain = add_freeze(
            session, one_off("no marking", "service=billing"), created_by="t", origin="api", now=NOW
        )
    with store.transaction() as session:
        muting = MutingContext(maintenance=[f for f in active_freezes(session, NOW) if f.maintenance])
        report = apply_alerts(
            session,
            [_alert("orders"), _alert("billing")],
            settings=IncidentSettings(),
            muting=muting,
            now=NOW,
        )
    assert plain.id != window.id
    assert report.alerts_muted == 1
    with store.sessions() as session:
        alerts = {a.labels["service"]: a for a in session.scalars(select(Alert))}
        incidents = list(session.scalars(select(Incident)))
    assert alerts["orders"].muted_reason == f"maintenance:{window.id}"
    assert alerts["orders"].incident_id is None  # kept and visible, but no incident: no page
    assert alerts["billing"].muted_reason == ""
    assert [i.title for i in incidents] and all(i.id == alerts["billing"].incident_id for i in incidents)
