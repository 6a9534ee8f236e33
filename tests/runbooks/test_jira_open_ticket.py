"""jira.open_ticket end to end: the real `jira` client over HTTP to the Jira fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.runbook_kit.services import ServiceRegistry
from bot.runbook_kit.spec import REGISTRY, ApprovalMode, IncidentContext, Outcome, Risk, RunContext
from bot.runbook_kit.targets import parse_target
from integrations.jira.client import JiraTickets
from integrations.jira.settings import JiraSettings
from runbooks.jira_open_ticket import RUNBOOK_ID, OpenTicketParams, open_jira_ticket, plan_ticket
from tests.fakes.jira import FakeJira

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TARGET = parse_target("jira:project/SEC")
INCIDENT = IncidentContext(
    incident_id="inc-7",
    title="Error rate anomaly on payments",
    severity="error",
    status="firing",
    explanation="5xx ratio 8% against a usual 0.1%",
    links=["https://grafana.example.com/d/payments"],
)


@pytest.fixture(scope="module")
def jira_server() -> Iterator[FakeJira]:
    with FakeJira(deployment="Cloud") as server:
        yield server


@pytest.fixture
def jira_fake(jira_server: FakeJira) -> FakeJira:
    jira_server.reset()
    return jira_server


def _ctx(jira_fake: FakeJira, incident: IncidentContext | None) -> RunContext:
    settings = JiraSettings(url=jira_fake.url, project="OPS", max_retries=0, timeout_seconds=5)
    services = ServiceRegistry()
    env = {"JIRA_USER": "bot@example.com", "JIRA_API_TOKEN": "jira-token"}
    services.put(JiraTickets, JiraTickets(settings, env=env))
    return RunContext(run_id="run-1", services=services, clock=lambda: NOW, incident=incident)


def test_registered_metadata() -> None:
    spec = REGISTRY.get(RUNBOOK_ID)
    assert spec is not None
    assert spec.risk is Risk.LOW
    assert spec.idempotent
    assert spec.approval.mode is ApprovalMode.NEVER
    assert spec.target_kind == "jira:project"


def test_plan_then_open_then_comment_on_repeat(jira_fake: FakeJira) -> None:
    plan = plan_ticket(_ctx(jira_fake, INCIDENT), TARGET, OpenTicketParams())
    [call] = plan.calls
    assert call.operation == "CreateIssue"
    assert call.params["project"] == {"key": "SEC"}
    assert call.params["priority"] == {"name": "High"}
    assert "conductor-incident-inc-7" in call.params["labels"]
    assert jira_fake.issues == {}  # the plan only searched

    first = open_jira_ticket(_ctx(jira_fake, INCIDENT), TARGET, OpenTicketParams())
    again_plan = plan_ticket(_ctx(jira_fake, INCIDENT), TARGET, OpenTicketParams())
    second = open_jira_ticket(_ctx(jira_fake, INCIDENT), TARGET, OpenTicketParams())

    assert first.outcome is Outcome.CHANGED
    assert first.details["created"] is True
    assert first.details["key"] == "SEC-1"
    assert [c.operation for c in again_plan.calls] == ["AddComment"]
    assert second.details == {"key": "SEC-1", "url": f"{jira_fake.url}/browse/SEC-1", "created": False}
    assert list(jira_fake.issues) == ["SEC-1"]
    assert len(jira_fake.issues["SEC-1"].comments) == 1


def test_manual_run_describes_the_incident_in_params(jira_fake: FakeJira) -> None:
    params = OpenTicketParams(incident_id="manual-1", title="Disk filling on db-1", severity="warning")
    result = open_jira_ticket(_ctx(jira_fake, None), TARGET, params)
    assert result.outcome is Outcome.CHANGED
    assert jira_fake.issues["SEC-1"].fields["summary"] == "[WARNING] Disk filling on db-1"


def test_without_an_incident_nothing_is_filed(jira_fake: FakeJira) -> None:
    plan = plan_ticket(_ctx(jira_fake, None), TARGET, OpenTicketParams())
    result = open_jira_ticket(_ctx(jira_fake, None), TARGET, OpenTicketParams())
    assert plan.verdict == "no_incident"
    assert plan.is_noop
    assert result.outcome is Outcome.FAILED
    assert jira_fake.requests == []
