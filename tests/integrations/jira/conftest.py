"""The Jira fake, once as Server and once as Cloud (they search on different endpoints)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.jira.client import JiraTickets
from integrations.jira.settings import JiraSettings
from tests.fakes.jira import FakeJira

JIRA_ENV = {"JIRA_USER": "bot@example.com", "JIRA_API_TOKEN": "jira-token"}


@pytest.fixture(scope="module", params=["Server", "Cloud"])
def jira_server(request: pytest.FixtureRequest) -> Iterator[FakeJira]:
    with FakeJira(deployment=request.param) as server:
        yield server


@pytest.fixture
def jira_fake(jira_server: FakeJira) -> FakeJira:
    jira_server.reset()
    return jira_server


@pytest.fixture
def jira_settings(jira_fake: FakeJira) -> JiraSettings:
    return JiraSettings(
        url=jira_fake.url,
        deployment="cloud" if jira_fake.deployment == "Cloud" else "server",
        project="OPS",
        labels=["cloud-conductor", "aiops"],
        max_retries=0,  # failure-path tests must not sit in the client's back-off
        timeout_seconds=5,
    )


@pytest.fixture
def tickets(jira_settings: JiraSettings) -> JiraTickets:
    return JiraTickets(jira_settings, env=JIRA_ENV)
