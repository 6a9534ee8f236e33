"""One retry layer per outside call, counted on the wire (issue 13, finding 11).

The real `jira` and `pagerduty` clients talk to the recording fakes; every request the bot sends
is counted. A runbook action is retried only inside its client (the SDK's own retries); reporting
is retried only by the job queue (its clients send each call once). Before, a Jira action's client,
runbook and job retries multiplied.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config.loader import parse_settings
from bot.engine.requests import RunRequest
from bot.runtime import Runtime, build_runtime
from bot.store.models import Incident, Job, RunbookRun
from tests.fakes.jira import FakeJira
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.tls import TestTLS

CLIENT_RETRIES = 2  # [jira] max_retries: 3 attempts per call inside the client
JOB_ATTEMPTS = 4  # [workers] max_attempts
ROUTING_KEY = "R0UT1NGKEY0000000000000000000009"
RATE_LIMITED = {"Retry-After": "0"}  # what the jira client retries; max_retry_delay 0 keeps it quick


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def jira_server() -> Iterator[FakeJira]:
    with FakeJira(deployment="Cloud") as server:
        yield server


@pytest.fixture(scope="module")
def pd_server(test_tls: TestTLS) -> Iterator[FakePagerDuty]:
    with FakePagerDuty(tls=test_tls.server_context, routing_keys={ROUTING_KEY}) as server:
        yield server


@pytest.fixture
def runtime(
    data_dir: Path,
    jira_server: FakeJira,
    pd_server: FakePagerDuty,
    test_tls: TestTLS,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Runtime, Clock]]:
    jira_server.reset()
    pd_server.reset()
    for name, value in {
        "JIRA_USER": "bot@example.com",
        "JIRA_API_TOKEN": "jira-token",
        "PD_ROUTING_KEY_OPS": ROUTING_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    clock = Clock()
    settings = parse_settings(
        {
            "data_dir": str(data_dir),
            "workers": {"max_attempts": JOB_ATTEMPTS},
            "jira": {
                "url": jira_server.url,
                "project": "OPS",
                "max_retries": CLIENT_RETRIES,
                "max_retry_delay_seconds": 0,
                "timeout_seconds": 5,
            },
            "pagerduty": {
                "events_base_url": pd_server.url,
                "ca_bundle": str(test_tls.ca_path),
                "routing_keys": {"ops": "PD_ROUTING_KEY_OPS"},
                "default_service": "ops",
                "max_http_attempts": 3,
                "retry_sleep_seconds": 0,
            },
        },
        {},
    )
    rt = build_runtime(settings, clock=clock)
    yield rt, clock
    rt.store.dispose()


def drain(runtime: Runtime, clock: Clock, rounds: int = 12) -> None:
    """Run every due job, moving the clock past each back-off, until nothing is left to retry."""
    for _ in range(rounds):
        runtime.jobs.run_once("test-worker")
        clock.now += timedelta(minutes=10)


def test_a_jira_action_makes_at_most_the_clients_attempts(
    runtime: tuple[Runtime, Clock], jira_server: FakeJira
) -> None:
    rt, clock = runtime
    outcome = rt.engine.request(
        RunRequest(
            "jira.open_ticket",
            "jira:project/OPS",
            {"incident_id": "inc-1", "title": "Disk full on db-1"},
            requested_by="cli:test",
            manual=True,
        )
    )
    assert outcome.status == "approved"  # planned against a healthy Jira: no ticket yet
    searched = len(jira_server.calls("GET", "/search"))
    jira_server.fail_next(429, path_contains="/search", headers=RATE_LIMITED, times=1_000)

    drain(rt, clock)

    with rt.store.sessions() as session:
        run = session.scalars(select(RunbookRun)).one()
    assert run.status == "failed" and "429" in run.reason
    # the action's first call, tried by the jira client only: 1 + max_retries, never again
    assert len(jira_server.calls("GET", "/search")) - searched == CLIENT_RETRIES + 1
    assert jira_server.calls("POST", "/issue") == []


def test_a_report_is_retried_by_the_job_queue_only(
    runtime: tuple[Runtime, Clock], jira_server: FakeJira, pd_server: FakePagerDuty
) -> None:
    rt, clock = runtime
    with rt.store.transaction() as session:
        incident = Incident(
            group_key="g",
            open_group_key="g",
            title="Disk full on db-1",
            opened_at=clock(),
            updated_at=clock(),
            jira_key="OPS-7",
        )
        session.add(incident)
        session.flush()
        incident_id = incident.id
    jira_server.fail_next(429, method="POST", path_contains="/comment", headers=RATE_LIMITED, times=1_000)
    pd_server.fail_next(503, times=1_000)
    with rt.store.transaction() as session:
        from bot.jobs import enqueue

        enqueue(
            session,
            kind="escalate",
            payload={"run_id": None, "incident_id": incident_id, "reason": "a human must look"},
            now=clock(),
        )

    drain(rt, clock)

    with rt.store.sessions() as session:
        [job] = session.scalars(select(Job).where(Job.kind == "escalate")).all()
    assert (job.status, job.attempts) == ("failed", JOB_ATTEMPTS)
    # one request per job attempt on each system: the clients add no retries of their own
    assert len(jira_server.calls("POST", "/comment")) == JOB_ATTEMPTS
    assert len(pd_server.calls("POST", "/v2/enqueue")) == JOB_ATTEMPTS
