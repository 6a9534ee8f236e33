"""The scheduler inside `conductor serve`: APScheduler 3 with an in-memory job store per process.

APScheduler 3 must never share a job store between processes, so every replica runs its own
`BackgroundScheduler` and a database lease picks the one whose sweeps run:

1. A heartbeat job (its own thread) acquires or renews the lease every `renew_every_seconds`.
2. Each sweep job first checks that this process holds the lease, then claims its tick in the store
   (a `sweep_runs` row unique on sweep and tick): even while the lease changes hands, a tick runs once.
3. When the leader dies its lease expires and another replica's next heartbeat takes it over; a
   clean shutdown releases the lease so the next leader need not wait.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from bot.config.root import Settings
from bot.config.sweeps import SchedulerSettings, SweepSettings
from bot.logs import get_logger
from bot.scheduler.executor import TickExecutor
from bot.scheduler.lease import LeaseKeeper
from bot.scheduler.triggers import sweep_trigger
from bot.sweeps.report import SweepReport
from bot.sweeps.runner import SweepContext, find_sweep, run_sweep
from bot.sweeps.runs import abandon_runs, claim_tick

log = get_logger(__name__)

HEARTBEAT_JOB = "scheduler.heartbeat"


class SchedulerService:
    """Runs the enabled sweeps on their schedules while this process holds the scheduler lease.

    `fire(name, tick)` is what a sweep job does; tests call it (and `heartbeat()`) directly with an
    injected clock instead of waiting for the scheduler.
    """

    def __init__(
        self,
        context: SweepContext,
        *,
        settings: SchedulerSettings | None = None,
        lease: LeaseKeeper | None = None,
        wait: Callable[[float], bool] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.context = context
        self.settings = settings or context.settings.scheduler
        self.lease = lease or LeaseKeeper(
            context.store, holder=context.holder, ttl=self.settings.lease_seconds, clock=context.clock
        )
        self._stopping = threading.Event()
        # Jitter waits end early on shutdown; tests pass a wait that returns at once.
        self._wait = wait or self._stopping.wait
        self._rng = rng or random.Random()
        self._scheduler: Any = None
        self._executor: TickExecutor | None = None
        self.skipped: dict[str, int] = {}  # ticks this process saw but did not run, by reason

    def sweeps(self) -> list[SweepSettings]:
        return [s for s in self.context.settings.sweeps if s.enabled]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._stopping.clear()
        self.heartbeat()  # know at once whether this process leads
        self._executor = TickExecutor(self.settings.max_concurrent_sweeps)
        scheduler = BackgroundScheduler(
            timezone=self.settings.timezone,
            jobstores={"default": MemoryJobStore()},
            executors={"default": self._executor, "heartbeat": ThreadPoolExecutor(1)},
        )
        scheduler.add_job(
            self.heartbeat,
            IntervalTrigger(seconds=self.settings.renew_every(), timezone=self.settings.timezone),
            id=HEARTBEAT_JOB,
            executor="heartbeat",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        for sweep in self.sweeps():
            scheduler.add_job(
                self._job,
                sweep_trigger(sweep, timezone=self.settings.timezone),
                args=[sweep.name],
                id=f"sweep:{sweep.name}",
                name=f"sweep {sweep.name}",
                coalesce=sweep.coalesce,
                max_instances=1,
                misfire_grace_time=max(1, round(sweep.misfire_grace_seconds)),
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info(
            "scheduler started",
            sweeps=[s.name for s in self.sweeps()],
            leader=self.lease.is_leader(),
            holder=self.lease.holder,
        )

    def stop(self, grace: float = 10.0) -> bool:
        """Stop scheduling, give running sweeps up to `grace` seconds, release the lease.
        True when no sweep was still running."""
        self._stopping.set()
        idle = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._executor is not None:
            idle = self._executor.wait_idle(grace)
            self._executor = None
        try:
            self.lease.release()
        except SQLAlchemyError as error:
            log.warning("could not release the scheduler lease; it will expire", error=str(error))
        return idle

    def next_runs(self) -> dict[str, datetime | None]:
        """Next fire time of each scheduled sweep in this process (empty when not started)."""
        if self._scheduler is None:
            return {}
        runs: dict[str, datetime | None] = {}
        for job in self._scheduler.get_jobs():
            if job.id.startswith("sweep:"):
                runs[job.id.removeprefix("sweep:")] = job.next_run_time
        return runs

    # ------------------------------------------------------------------ jobs

    def heartbeat(self) -> bool:
        """Acquire or renew the lease; on becoming leader, close runs a dead leader left open."""
        was_leader = self.lease.is_leader()
        try:
            leader = self.lease.acquire()
            if leader and not was_leader:
                now = self.context.clock()
                abandon_runs(
                    self.context.store, not_holder=self.lease.holder, now=now, actor=self.lease.holder
                )
        except SQLAlchemyError as error:
            log.warning("scheduler heartbeat failed", error=str(error))
            return self.lease.is_leader()
        return leader

    def _job(self, name: str, scheduled_at: datetime | None = None) -> SweepReport | None:
        assert scheduled_at is not None, "sweep jobs run on the TickExecutor, which passes scheduled_at"
        return self.fire(name, scheduled_at)

    def fire(self, name: str, tick: datetime) -> SweepReport | None:
        """Run sweep `name` for `tick` if this process leads and nobody ran that tick yet."""
        if not self.lease.is_leader(self.context.clock()):
            return self._skip(name, "not leader")
        sweep = find_sweep(self.context.settings, name)
        if sweep.jitter_seconds > 0:
            if self._wait(self._rng.uniform(0, sweep.jitter_seconds)):
                return self._skip(name, "shutting down")
            if not self.lease.is_leader(self.context.clock()):
                return self._skip(name, "not leader")
        run_id = claim_tick(
            self.context.store,
            sweep=sweep.name,
            kind=sweep.kind,
            tick=tick,
            trigger="schedule",
            holder=self.lease.holder,
            now=self.context.clock(),
        )
        if run_id is None:
            return self._skip(name, "tick already claimed")
        return run_sweep(name, context=self.context, trigger="schedule", tick=tick, run_id=run_id)

    def _skip(self, name: str, reason: str) -> SweepReport | None:
        key = f"{name}: {reason}"
        self.skipped[key] = self.skipped.get(key, 0) + 1
        log.debug("sweep tick skipped", sweep=name, reason=reason)
        return None


def start_scheduler(settings: Settings, context: Callable[[], SweepContext]) -> SchedulerService | None:
    """Start the scheduler for `conductor serve`, or say why not (`context` is built only when needed)."""
    if not settings.scheduler.enabled:
        log.info("scheduler disabled ([scheduler] enabled = false)")
        return None
    if not any(s.enabled for s in settings.sweeps):
        log.info("scheduler idle: no sweeps configured")  # no lease taken, nothing to run
        return None
    service = SchedulerService(context())
    service.start()
    return service
