"""An APScheduler 3 executor that tells the job which tick it is running.

APScheduler's own executors call `job.func(*args)` without the scheduled run time. A sweep needs it:
the tick (not the moment the thread got to it) identifies the run across replicas, so two schedulers
can never both run it. This executor runs `job.func(*args, scheduled_at=run_time, **kwargs)` in a
thread pool and reports the same events (executed, error, missed) as
`apscheduler.executors.base.run_job`. Job functions declare `scheduled_at: datetime | None = None`
(APScheduler checks at `add_job` that every parameter without a default is supplied).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor

log = logging.getLogger(__name__)


class TickExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler 3 ships no type hints
    def __init__(self, max_workers: int = 2, *, now: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="sweep")
        self._now = now or (lambda: datetime.now(UTC))
        self._futures: set[Future[list[JobExecutionEvent]]] = set()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        future = self._pool.submit(self._run, job, run_times)
        self._futures.add(future)

        def done(f: Future[list[JobExecutionEvent]]) -> None:
            self._futures.discard(f)
            error = f.exception()
            if error is not None:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, f.result())

        future.add_done_callback(done)

    def _run(self, job: Any, run_times: list[datetime]) -> list[JobExecutionEvent]:
        events = []
        alias = job._jobstore_alias
        for run_time in run_times:
            late = self._now() - run_time
            if job.misfire_grace_time is not None and late > timedelta(seconds=job.misfire_grace_time):
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, alias, run_time))
                log.warning("run of %s at %s missed by %s", job.id, run_time.isoformat(), late)
                continue
            try:
                value = job.func(*job.args, scheduled_at=run_time, **job.kwargs)
            except Exception:
                exc, tb = sys.exc_info()[1:]
                formatted = "".join(traceback.format_tb(tb))
                events.append(
                    JobExecutionEvent(
                        EVENT_JOB_ERROR, job.id, alias, run_time, exception=exc, traceback=formatted
                    )
                )
                log.exception("job %s raised", job.id)
            else:
                events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, alias, run_time, retval=value))
        return events

    def running(self) -> int:
        return sum(1 for f in list(self._futures) if not f.done())

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for running jobs; True when none is left."""
        _done, pending = wait(list(self._futures), timeout=timeout)
        return not pending
