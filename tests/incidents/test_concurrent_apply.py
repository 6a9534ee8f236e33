"""Two workers applying deliveries for one incident at the same moment, on PostgreSQL.

Worker A applies its delivery and holds its transaction open; worker B starts its own delivery
for the same incident and runs until it either finishes or waits for a lock (seen in
`pg_stat_activity`, so nothing here sleeps on a guess); then A commits and B finishes. The store
must end as if the two deliveries had been applied one after the other: no count lost, no
status decided from a stale read, no incident opened or re-opened twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource, Severity
from bot.config.settings import IncidentSettings
from bot.incidents.apply import MutingContext, apply_alerts
from bot.store.db import Store
from bot.store.models import Alert, AuditRecord, Incident
from tests.stores import truncate_all

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
SETTINGS = IncidentSettings()
WAIT_SECONDS = 20.0  # an upper bound on how long B may take to block or finish, never a sleep


def alert(fingerprint: str, status: AlertStatus = AlertStatus.FIRING) -> NormalizedAlert:
    return NormalizedAlert(
        source="alertmanager",
        fingerprint=fingerprint,
        name="HighCPU",
        status=status,
        severity=Severity.WARNING,
        resource=Resource(provider=Provider.KUBERNETES, type="deployment", id="prod/api", name="prod/api"),
        labels={"service": "api"},
    )


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[Store]:
    store = Store.connect(postgres_url)
    truncate_all(store)
    yield store
    store.dispose()


def apply(store: Store, alerts: list[NormalizedAlert], at: datetime) -> None:
    with store.transaction() as session:
        apply_alerts(session, alerts, settings=SETTINGS, muting=MutingContext(), now=at)


def _waiting_or_done(store: Store, pid: int, done: threading.Event) -> None:
    """Return once backend `pid` waits for a lock or its work is done."""
    deadline = time.monotonic() + WAIT_SECONDS
    with store.engine.connect() as connection:
        while time.monotonic() < deadline:
            if done.is_set():
                return
            waiting = connection.execute(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()
            connection.rollback()  # a fresh snapshot each look
            if waiting == "Lock":
                return
            done.wait(0.01)
    raise AssertionError("worker B neither finished nor waited for a lock")


def race(store: Store, first: list[NormalizedAlert], second: list[NormalizedAlert], at: datetime) -> None:
    """A applies `first` and keeps its transaction open while B applies `second`."""
    pid: list[int] = []
    started = threading.Event()
    done = threading.Event()
    failure: list[BaseException] = []

    def worker_b() -> None:
        try:
            with store.transaction() as session:
                pid.append(int(session.scalar(text("SELECT pg_backend_pid()")) or 0))
                started.set()
                apply_alerts(session, second, settings=SETTINGS, muting=MutingContext(), now=at)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)
        finally:
            started.set()
            done.set()

    with store.transaction() as session_a:
        apply_alerts(session_a, first, settings=SETTINGS, muting=MutingContext(), now=at)
        thread = threading.Thread(target=worker_b, name="worker-b")
        thread.start()
        assert started.wait(WAIT_SECONDS)
        if pid:
            _waiting_or_done(store, pid[0], done)
    thread.join(WAIT_SECONDS)
    assert not thread.is_alive()
    if failure:
        raise failure[0]


def one(store: Store, model: type[Alert] | type[Incident], **where: object) -> Alert | Incident:
    with store.sessions() as session:
        query = select(model).filter_by(**where)
        return session.scalars(query).one()


def audits(store: Store, action: str) -> int:
    with store.sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action))
            or 0
        )


@dataclass(frozen=True)
class Scenario:
    before: Callable[[Store], None]
    first: list[NormalizedAlert]
    second: list[NormalizedAlert]
    check: Callable[[Store], None]


def _one_open(store: Store) -> None:
    apply(store, [alert("a1")], T0)


def _two_open(store: Store) -> None:
    apply(store, [alert("a1"), alert("a2")], T0)


def _resolved(store: Store) -> None:
    apply(store, [alert("a1")], T0)
    apply(store, [alert("a1", AlertStatus.RESOLVED)], T0 + timedelta(minutes=1))


def _check_repeats(store: Store) -> None:
    row = one(store, Alert, fingerprint="a1")
    incident = one(store, Incident)
    assert isinstance(row, Alert) and isinstance(incident, Incident)
    assert row.deliveries == 3  # stored once, then once by each worker
    assert incident.alert_events == 3


def _check_two_alerts(store: Store) -> None:
    incident = one(store, Incident)
    assert isinstance(incident, Incident)
    assert incident.alert_events == 4  # two at the start, one from each worker


def _check_both_resolved(store: Store) -> None:
    incident = one(store, Incident)
    assert isinstance(incident, Incident)
    assert incident.status == "resolved" and incident.open_group_key is None
    assert audits(store, "incident.resolved") == 1


def _check_one_reopen(store: Store) -> None:
    incident = one(store, Incident)
    assert isinstance(incident, Incident)
    assert incident.status == "open" and incident.reopened_count == 1
    assert audits(store, "incident.reopened") == 1
    assert incident.alert_events == 3


def _check_one_opened(store: Store) -> None:
    incident = one(store, Incident)  # exactly one, and worker B did not fail on the unique key
    assert isinstance(incident, Incident)
    assert incident.alert_events == 2
    assert audits(store, "incident.opened") == 1


SCENARIOS = [
    pytest.param(
        Scenario(_one_open, [alert("a1")], [alert("a1")], _check_repeats), id="same-alert-repeats-both-count"
    ),
    pytest.param(
        Scenario(_two_open, [alert("a1")], [alert("a2")], _check_two_alerts),
        id="two-alerts-one-incident-both-count",
    ),
    pytest.param(
        Scenario(
            _two_open,
            [alert("a1", AlertStatus.RESOLVED)],
            [alert("a2", AlertStatus.RESOLVED)],
            _check_both_resolved,
        ),
        id="last-alert-resolving-resolves-the-incident",
    ),
    pytest.param(Scenario(_resolved, [alert("a1")], [alert("a2")], _check_one_reopen), id="reopened-once"),
    pytest.param(
        Scenario(lambda store: None, [alert("a1")], [alert("a2")], _check_one_opened),
        id="new-group-opened-once",
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_two_workers_on_one_incident_apply_as_if_one_after_the_other(
    pg_store: Store, scenario: Scenario
) -> None:
    scenario.before(pg_store)
    race(pg_store, scenario.first, scenario.second, T0 + timedelta(minutes=5))
    scenario.check(pg_store)
