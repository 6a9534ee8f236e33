"""Alerts into incidents: grouping, repeats, auto-resolve, re-open, flapping, silences, inhibition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource, Severity
from bot.audit import list_audit
from bot.config.settings import IncidentSettings
from bot.incidents.apply import ApplyReport, MutingContext, apply_alerts
from bot.incidents.muting import ActiveSilence, InhibitionRule
from bot.incidents.silences import active_silences, add_silence
from bot.matching import Matcher, parse_matcher
from bot.store.db import Store
from bot.store.models import Alert, Incident, Job

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
SETTINGS = IncidentSettings()


def alert(
    name: str = "HighCPU",
    status: AlertStatus = AlertStatus.FIRING,
    *,
    fingerprint: str | None = None,
    resource: str = "prod/api",
    severity: Severity = Severity.WARNING,
    labels: dict[str, str] | None = None,
) -> NormalizedAlert:
    return NormalizedAlert(
        source="alertmanager",
        fingerprint=fingerprint or f"{name}-{resource}",
        name=name,
        status=status,
        severity=severity,
        resource=Resource(provider=Provider.KUBERNETES, type="deployment", id=resource, name=resource),
        labels=labels or {"service": "api"},
    )


def apply(
    store: Store,
    alerts: list[NormalizedAlert],
    at: datetime,
    muting: MutingContext | None = None,
    settings: IncidentSettings = SETTINGS,
) -> ApplyReport:
    with store.transaction() as session:
        return apply_alerts(session, alerts, settings=settings, muting=muting or MutingContext(), now=at)


def incidents(store: Store) -> list[Incident]:
    with store.sessions() as session:
        return list(session.scalars(select(Incident).order_by(Incident.id)))


def test_alerts_with_the_same_group_share_one_incident_and_repeats_count(store: Store) -> None:
    first = apply(store, [alert(fingerprint="a1"), alert(fingerprint="a2")], T0)
    again = apply(store, [alert(fingerprint="a1")], T0 + timedelta(minutes=1))
    assert len(first.opened) == 1
    assert again.opened == [] and again.updated == first.opened and again.alerts_repeated == 1
    [incident] = incidents(store)
    assert incident.status == "open" and incident.alert_events == 3
    assert incident.title == "HighCPU on prod/api"


def test_different_resources_open_different_incidents(store: Store) -> None:
    apply(store, [alert(resource="prod/api"), alert(resource="prod/web")], T0)
    assert len(incidents(store)) == 2


def test_incident_resolves_only_when_all_alerts_resolve(store: Store) -> None:
    apply(store, [alert(fingerprint="a1"), alert(fingerprint="a2")], T0)
    partly = apply(store, [alert(fingerprint="a1", status=AlertStatus.RESOLVED)], T0 + timedelta(minutes=1))
    assert partly.resolved == []
    done = apply(store, [alert(fingerprint="a2", status=AlertStatus.RESOLVED)], T0 + timedelta(minutes=2))
    [incident] = incidents(store)
    assert done.resolved == [incident.id]
    assert incident.status == "resolved" and incident.open_group_key is None
    assert incident.resolved_at == T0 + timedelta(minutes=2)


def test_status_is_per_alert_in_a_mixed_group(store: Store) -> None:
    apply(store, [alert(fingerprint="a1"), alert(fingerprint="a2", status=AlertStatus.RESOLVED)], T0)
    with store.sessions() as session:
        statuses = {a.fingerprint: a.status for a in session.scalars(select(Alert))}
    assert statuses == {"a1": "firing", "a2": "resolved"}
    assert incidents(store)[0].status == "open"


@pytest.mark.parametrize(
    ("gap", "reopens"),
    [
        pytest.param(timedelta(minutes=10), True, id="within-window-reopens"),
        pytest.param(timedelta(hours=2), False, id="after-window-opens-new"),
    ],
)
def test_reopen_window(store: Store, gap: timedelta, reopens: bool) -> None:
    apply(store, [alert()], T0)
    apply(store, [alert(status=AlertStatus.RESOLVED)], T0 + timedelta(minutes=1))
    report = apply(store, [alert()], T0 + timedelta(minutes=1) + gap)
    rows = incidents(store)
    if reopens:
        assert report.reopened == [rows[0].id] and len(rows) == 1
        assert rows[0].status == "open" and rows[0].reopened_count == 1
    else:
        assert len(report.opened) == 1 and len(rows) == 2


def test_flapping_marks_alert_and_incident(store: Store) -> None:
    statuses = [AlertStatus.FIRING, AlertStatus.RESOLVED] * 3
    for i, status in enumerate(statuses):
        apply(store, [alert(status=status)], T0 + timedelta(minutes=i))
    with store.sessions() as session:
        stored = session.scalars(select(Alert)).one()
        assert stored.flapping
        actions = [e.action for e in list_audit(session, limit=1000)]
    assert "alert.flapping" in actions
    assert any(i.flapping for i in incidents(store))


def test_silenced_alert_is_stored_with_reason_and_opens_nothing(store: Store) -> None:
    with store.transaction() as session:
        silence = add_silence(
            session,
            matchers=[parse_matcher("service=api")],
            starts_at=T0,
            ends_at=T0 + timedelta(hours=1),
            created_by="alice",
            comment="deploy",
            origin="cli",
            now=T0,
        )
        muting = MutingContext(silences=active_silences(session, T0 + timedelta(minutes=1)))
    report = apply(store, [alert()], T0 + timedelta(minutes=1), muting)
    assert report.alerts_muted == 1 and report.opened == []
    with store.sessions() as session:
        stored = session.scalars(select(Alert)).one()
    assert stored.muted_reason == f"silenced:{silence.id}" and stored.incident_id is None
    assert incidents(store) == []


def test_expired_silence_does_not_mute() -> None:
    silence = ActiveSilence(1, (Matcher("name", "=", "HighCPU"),), T0, T0 + timedelta(minutes=5))
    assert silence.active(T0 + timedelta(minutes=1))
    assert not silence.active(T0 + timedelta(minutes=5))


def test_inhibition_mutes_target_with_equal_labels_only(store: Store) -> None:
    rule = InhibitionRule(
        source=(Matcher("severity", "=", "critical"),),
        target=(Matcher("severity", "=", "warning"),),
        equal=("service",),
    )
    muting = MutingContext(inhibit_rules=[rule])
    apply(store, [alert("NodeDown", severity=Severity.CRITICAL, resource="node-1")], T0, muting)
    report = apply(
        store,
        [
            alert("HighLatency", resource="prod/api"),
            alert("HighLatency", resource="prod/web", labels={"service": "web"}),
        ],
        T0 + timedelta(minutes=1),
        muting,
    )
    assert report.alerts_muted == 1
    with store.sessions() as session:
        muted = {(a.name, a.resource["id"]): a.muted_reason for a in session.scalars(select(Alert))}
    assert muted[("HighLatency", "prod/api")] == "inhibited:NodeDown-node-1"
    assert muted[("HighLatency", "prod/web")] == ""  # service=web differs from the source's service=api
    assert muted[("NodeDown", "node-1")] == ""


def test_every_change_is_audited_and_queued(store: Store) -> None:
    report = apply(store, [alert()], T0)
    apply(store, [alert(status=AlertStatus.RESOLVED)], T0 + timedelta(minutes=1))
    with store.sessions() as session:
        actions = [e.action for e in list_audit(session, limit=100)]
        jobs = [j.payload["event"] for j in session.scalars(select(Job).order_by(Job.id))]
    assert actions.count("alert.received") == 2
    assert "incident.opened" in actions and "incident.resolved" in actions
    assert jobs == ["opened", "resolved"]
    assert report.opened
