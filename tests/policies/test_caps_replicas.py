"""The caps hold across replicas: two processes' stores on one PostgreSQL admit one run, not two.

Each "replica" is its own engine and connection pool. Both count the runs in flight at the same
moment and then start one if there is room; the `caps` row lock makes the second wait for the
first's commit, so it sees the first run and stays out. The control run without the lock shows
the race is real (both get in), so the test can fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.config.policies import CapSettings
from bot.policies.caps import cap_problem, lock_caps
from bot.store.db import Store
from bot.store.models import RunbookRun
from tests.stores import truncate_all

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
CAPS = CapSettings(max_concurrent_per_runbook=1)


@pytest.fixture
def replicas(postgres_url: str) -> Iterator[tuple[Store, Store]]:
    first, second = Store.connect(postgres_url), Store.connect(postgres_url)
    truncate_all(first)
    yield first, second
    first.dispose()
    second.dispose()


def _admit(store: Store, target: str, *, locked: bool, started: threading.Barrier) -> None:
    with store.transaction() as session:
        started.wait(timeout=10)
        if locked:
            lock_caps(session)
        problem = cap_problem(session, CAPS, runbook="test.bump", target=target, service="", now=NOW)
        time.sleep(0.3)  # the other replica counts in this gap
        if not problem:
            session.add(
                RunbookRun(
                    runbook_id="test.bump",
                    target=target,
                    status="running",
                    requested_by="rule:r",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


def _race(replicas: tuple[Store, Store], *, locked: bool) -> int:
    started = threading.Barrier(2)
    threads = [
        threading.Thread(
            target=_admit, args=(store, f"jira:project/{name}"), kwargs={"locked": locked, "started": started}
        )
        for store, name in zip(replicas, "AB", strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with replicas[0].sessions() as session:
        return len(session.scalars(select(RunbookRun).where(RunbookRun.status == "running")).all())


def test_two_replicas_admit_one_run(replicas: tuple[Store, Store]) -> None:
    assert _race(replicas, locked=True) == 1


def test_without_the_lock_both_would_get_in(replicas: tuple[Store, Store]) -> None:
    assert _race(replicas, locked=False) == 2
