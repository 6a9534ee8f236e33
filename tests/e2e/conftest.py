"""Fakes for the end-to-end scenarios: started once per module, reset per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.world import PD_ROUTING_KEY, World
from tests.fakes.azure_arm import FakeAzureArm
from tests.fakes.azure_logs import FakeAzureLogs
from tests.fakes.azure_monitor import AzureMetricsStore
from tests.fakes.glue_failed_runs import GlueMotoServer
from tests.fakes.jira import FakeJira
from tests.fakes.moto_server import AWS_TEST_ENV
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.tls import TestTLS


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A migrated schema of its own on the local PostgreSQL, for replicas to share."""
    from tests.stores import postgres_schema, require_postgres

    require_postgres()
    with postgres_schema() as url:
        yield url


@pytest.fixture
def world(tmp_path: Path, test_tls: TestTLS, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    aws = GlueMotoServer().start()
    slack = FakeSlack().start()
    jira = FakeJira().start()
    pagerduty = FakePagerDuty(tls=test_tls.server_context, routing_keys={PD_ROUTING_KEY}).start()
    arm = FakeAzureArm(tls=test_tls.server_context)
    metrics = AzureMetricsStore()
    metrics.install(arm)
    arm.start()
    logs = FakeAzureLogs(tls=test_tls.server_context).start()
    for key, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)  # the test's own boto3 calls reach the same moto
    w = World(tmp_path, test_tls, aws, slack, jira, pagerduty, arm, logs, metrics)
    yield w
    w.stop()
    for fake in (slack, jira, pagerduty, arm, logs):
        fake.stop()
    aws.stop()
