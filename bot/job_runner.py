"""Run persisted jobs by kind. Handlers must be idempotent: a job may run again after a crash."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.config.root import Settings
from bot.errors import WorkDeferred
from bot.jobs import ClaimedJob, claim, complete, defer, retry_later
from bot.logs import get_logger
from bot.store.db import Store, store_unreachable

log = get_logger(__name__)

JobHandler = Callable[[ClaimedJob], None]
STORE_RETRY = timedelta(seconds=1)  # a job the store failed under runs again this soon


class JobRunner:
    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        clock: Callable[[], datetime],
        between_jobs: Callable[[], None] = lambda: None,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._handlers: dict[str, JobHandler] = {}
        # Called between two jobs of a claimed batch: each job writes, and webhooks go first.
        self._between_jobs = between_jobs
        self._stopping = stopping  # shutting down: claimed jobs not started yet are given back

    def register(self, kind: str, handler: JobHandler) -> None:
        self._handlers[kind] = handler

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    def run_once(self, worker: str, limit: int | None = None) -> int:
        """Claim and run due jobs (at most `limit`, else `claim_batch`); returns how many."""
        if not self._handlers:
            return 0
        lease = timedelta(seconds=self._settings.workers.claim_timeout_seconds)
        with self._store.transaction() as session:
            claimed = claim(
                session,
                worker=worker,
                now=self._clock(),
                lease=lease,
                limit=limit or self._settings.workers.claim_batch,
                kinds=self.kinds,
            )
        for index, job in enumerate(claimed):
            if index:
                if self._stopping():
                    break  # the rest stays claimed by us; shutdown releases it
                self._between_jobs()
            self.run_job(job)
        return len(claimed)

    def run_job(self, job: ClaimedJob) -> None:
        handler = self._handlers[job.kind]
        try:
            handler(job)
        except WorkDeferred as deferred:  # another worker is doing part of it: come back later
            log.info("job deferred", job_id=job.id, kind=job.kind, reason=str(deferred))
            with self._store.transaction() as session:
                defer(session, job.id, run_after=max(deferred.until, self._clock()))
            return
        except Exception as exc:  # noqa: BLE001 - the job is retried with back-off, then parked
            if store_unreachable(exc):  # not the job's fault: not counted (see bot.store.db)
                self._put_back(job, exc)
                return
            give_up = job.attempts >= self._settings.workers.max_attempts
            log.warning(
                "job failed",
                job_id=job.id,
                kind=job.kind,
                attempt=job.attempts,
                give_up=give_up,
                error=str(exc),
            )
            with self._store.transaction() as session:
                retry_later(
                    session,
                    job.id,
                    error=f"{exc.__class__.__name__}: {exc}",
                    run_after=self._clock() + timedelta(seconds=min(300, 2**job.attempts)),
                    give_up=give_up,
                )
            return
        with self._store.transaction() as session:
            complete(session, job.id, now=self._clock())

    def _put_back(self, job: ClaimedJob, exc: Exception) -> None:
        log.warning("store unreachable; job put back", job_id=job.id, kind=job.kind, error=str(exc))
        try:
            with self._store.transaction() as session:
                defer(session, job.id, run_after=self._clock() + STORE_RETRY)
        except Exception as again:  # noqa: BLE001 - still unreachable: our claim is taken again later
            log.warning("job claim kept until the store is back", job_id=job.id, error=str(again))
