"""SchedulerService: only the lease holder runs sweeps, and each tick runs once even when two
replicas both believe they lead (clock skew during a handover)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from bot.config.loader import parse_settings
from bot.scheduler.executor import TickExecutor
from bot.scheduler.service import SchedulerService
from bot.store.db import Store
from bot.store.models import AuditRecord, SweepRun
from bot.sweeps.runner import SweepContext
from bot.sweeps.runs import claim_tick
from bot.sweeps.sources import SweepSources
from tests.fakes.moto_server import MotoServer

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TICK = datetime(2026, 11, 23, 12, 0, 30, tzinfo=UTC)
SWEEP = {
    "name": "budgets",
    "kind": "budget",
    "account_id": "123456789012",
    "schedule": {"interval_seconds": 30},
}


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def service(
    store: Store, data_dir: Path, holder: str, clock: Clock, sweep: dict[str, Any] | None = None, **kw: Any
) -> SchedulerService:
    settings = parse_settings(
        {"data_dir": str(data_dir), "sweeps": [sweep or SWEEP], "scheduler": {"lease_seconds": 30}}, {}
    )
    context = SweepContext(settings, store, SweepSources(settings), clock=clock, holder=holder)
    return SchedulerService(context, **kw)


def runs(store: Store) -> list[tuple[str, datetime, str, str]]:
    with store.sessions() as session:
        return [
            (r.sweep, r.tick, r.holder, r.status)
            for r in session.scalars(select(SweepRun).order_by(SweepRun.id))
        ]


def test_only_the_leader_runs_a_tick(moto: MotoServer, store: Store, data_dir: Path) -> None:
    clock = Clock(T0)
    a, b = service(store, data_dir, "a:1", clock), service(store, data_dir, "b:2", clock)
    assert a.heartbeat() and not b.heartbeat()

    assert b.fire("budgets", TICK) is None
    report = a.fire("budgets", TICK)

    assert report is not None and report.status == "ok"
    assert runs(store) == [("budgets", TICK, "a:1", "ok")]
    assert b.skipped == {"budgets: not leader": 1}


def test_a_tick_runs_once_when_two_replicas_both_think_they_lead(
    moto: MotoServer, store: Store, data_dir: Path
) -> None:
    slow, fast = Clock(T0), Clock(T0)
    a = service(store, data_dir, "a:1", slow)
    b = service(store, data_dir, "b:2", fast)
    assert a.heartbeat()
    # a's renewals stop reaching the store; b's clock runs 31 s ahead and sees the lease expired.
    slow.at, fast.at = T0 + timedelta(seconds=10), T0 + timedelta(seconds=31)
    assert b.heartbeat()
    assert a.lease.is_leader() and b.lease.is_leader()  # both believe it, for a while

    results = [x.fire("budgets", TICK) for x in (a, b)]

    assert [r is not None for r in results] == [True, False]
    assert [(s, t, h) for s, t, h, _ in runs(store)] == [("budgets", TICK, "a:1")]
    assert b.skipped == {"budgets: tick already claimed": 1}


def test_claim_tick_is_unique_per_sweep_and_tick(store: Store) -> None:
    def claim(sweep: str, tick: datetime) -> int | None:
        return claim_tick(
            store, sweep=sweep, kind="budget", tick=tick, trigger="schedule", holder="x", now=T0
        )

    assert claim("a", TICK) is not None
    assert claim("a", TICK) is None
    assert claim("b", TICK) is not None
    assert claim("a", TICK + timedelta(seconds=30)) is not None


def test_new_leader_marks_runs_of_the_dead_leader_abandoned(
    moto: MotoServer, store: Store, data_dir: Path
) -> None:
    clock = Clock(T0)
    a = service(store, data_dir, "a:1", clock)
    assert a.heartbeat()
    claim_tick(store, sweep="budgets", kind="budget", tick=TICK, trigger="schedule", holder="a:1", now=T0)
    # a dies mid-run; b takes over after the lease expired
    clock.at = T0 + timedelta(seconds=31)
    b = service(store, data_dir, "b:2", clock)

    assert b.heartbeat()

    assert runs(store) == [("budgets", TICK, "a:1", "abandoned")]
    with store.sessions() as session:
        actions = session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)).all()
    assert actions == ["scheduler.leader_acquired", "scheduler.leader_acquired", "sweep.abandoned"]


def test_jitter_waits_a_random_share_then_runs(moto: MotoServer, store: Store, data_dir: Path) -> None:
    waited: list[float] = []

    def wait(seconds: float) -> bool:
        waited.append(seconds)
        return False  # not shutting down

    sweep = {**SWEEP, "jitter_seconds": 20}
    a = service(store, data_dir, "a:1", Clock(T0), sweep, wait=wait)
    assert a.heartbeat()

    assert a.fire("budgets", TICK) is not None
    assert len(waited) == 1 and 0 <= waited[0] <= 20


def test_start_schedules_sweeps_and_stop_releases_the_lease(
    moto: MotoServer, store: Store, data_dir: Path
) -> None:
    sweep = {**SWEEP, "schedule": {"cron": "0 3 1 1 *"}}  # far away: nothing fires during the test
    a = service(store, data_dir, "a:1", Clock(datetime.now(UTC)), sweep)

    a.start()
    try:
        assert a.lease.is_leader()
        (name, next_run), *_ = a.next_runs().items()
        assert name == "budgets"
        assert next_run is not None and (next_run.month, next_run.day, next_run.hour) == (1, 1, 3)
    finally:
        assert a.stop(grace=5)
    assert a.lease.current() is None  # released, not left to expire


def run_with(
    executor: TickExecutor, schedule: Callable[[BackgroundScheduler], None]
) -> list[JobExecutionEvent]:
    events: list[JobExecutionEvent] = []
    done = threading.Event()

    def listen(event: JobExecutionEvent) -> None:
        events.append(event)
        done.set()

    scheduler = BackgroundScheduler(timezone="UTC", executors={"default": executor})
    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    schedule(scheduler)
    scheduler.start()
    try:
        assert done.wait(10), "the job never ran"
    finally:
        scheduler.shutdown(wait=True)
    return events


def test_tick_executor_passes_the_scheduled_time() -> None:
    seen: list[tuple[datetime | None, str]] = []
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)

    def record(name: str, scheduled_at: datetime | None = None) -> None:
        seen.append((scheduled_at, name))

    events = run_with(
        TickExecutor(1),
        lambda s: s.add_job(record, "date", run_date=due, args=["x"], misfire_grace_time=60),
    )

    assert seen == [(due, "x")]
    assert [e.code for e in events] == [EVENT_JOB_EXECUTED]
    assert events[0].scheduled_run_time == due


def test_tick_executor_skips_a_tick_later_than_its_grace() -> None:
    seen: list[datetime | None] = []
    due = datetime.now(UTC) - timedelta(minutes=5)

    def record(scheduled_at: datetime | None = None) -> None:
        seen.append(scheduled_at)

    events = run_with(
        TickExecutor(1), lambda s: s.add_job(record, "date", run_date=due, misfire_grace_time=1)
    )

    assert seen == []
    assert [e.code for e in events] == [EVENT_JOB_MISSED]
