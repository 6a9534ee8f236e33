"""A job that waits for another worker (WorkDeferred) comes back later and keeps its attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.config.loader import parse_settings
from bot.errors import NotificationInFlight
from bot.job_runner import JobRunner
from bot.jobs import ClaimedJob, enqueue
from bot.store.db import Store
from bot.store.models import Job

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


def test_a_deferred_job_is_put_back_without_counting_the_attempt(store: Store) -> None:
    settings = parse_settings({"workers": {"max_attempts": 1}}, {})
    runner = JobRunner(store=store, settings=settings, clock=lambda: T0)
    seen: list[int] = []

    def handler(job: ClaimedJob) -> None:
        seen.append(job.attempts)
        raise NotificationInFlight("slack:incident:1:parent is being sent", until=T0 + timedelta(seconds=1))

    runner.register("report", handler)
    with store.transaction() as session:
        enqueue(session, kind="report", payload={}, now=T0)
    assert runner.run_once("w") == 1
    with store.sessions() as session:
        job = session.scalars(select(Job)).one()
    # max_attempts = 1 would have parked a failed job; a deferred one is pending, attempts untouched
    assert (job.status, job.attempts, job.run_after, job.claimed_by) == (
        "pending",
        0,
        T0 + timedelta(seconds=1),
        None,
    )
    assert runner.run_once("w") == 0  # not before its time
    assert seen == [1]
