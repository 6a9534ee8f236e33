"""JiraTickets: the real `jira` client over HTTP to the recording Jira fake (Server and Cloud)."""

from __future__ import annotations

import pytest

from bot.errors import IntegrationError
from bot.runbook_kit.spec import IncidentContext
from integrations.jira.client import JiraTickets
from integrations.jira.settings import JiraSettings
from tests.fakes.jira import FakeJira

from .conftest import JIRA_ENV

INCIDENT = IncidentContext(
    incident_id="inc-42",
    title="p95 latency anomaly on checkout",
    severity="critical",
    status="firing",
    summary="p95 latency 2.3 s (usual 0.4 s)",
    anomaly_score=0.93,
    explanation="isolation forest score 0.93 above 0.70: latency far outside its daily pattern",
    links=["https://grafana.example.com/d/checkout"],
)


def _search_path(fake: FakeJira) -> str:
    return "/rest/api/2/search/jql" if fake.deployment == "Cloud" else "/rest/api/2/search"


def test_first_ensure_ticket_creates_one_labelled_ticket(jira_fake: FakeJira, tickets: JiraTickets) -> None:
    ticket = tickets.ensure_ticket(INCIDENT)

    assert ticket.created
    assert ticket.key == "OPS-1"
    assert ticket.url == f"{jira_fake.url}/browse/OPS-1"
    [search] = [r for r in jira_fake.calls("GET") if r.path == _search_path(jira_fake)]
    assert search.query["jql"] == ['labels = "conductor-incident-inc-42" ORDER BY created ASC']
    [create] = jira_fake.calls("POST", "/rest/api/2/issue")
    fields = create.json()["fields"]
    assert fields["project"] == {"key": "OPS"}
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["priority"] == {"name": "Highest"}
    assert fields["labels"] == ["cloud-conductor", "aiops", "conductor-incident-inc-42"]
    assert fields["summary"] == "[CRITICAL] p95 latency anomaly on checkout"
    assert INCIDENT.explanation in fields["description"]
    assert "https://grafana.example.com/d/checkout" in fields["description"]


def test_second_ensure_ticket_comments_instead_of_creating(
    jira_fake: FakeJira, jira_settings: JiraSettings
) -> None:
    first = JiraTickets(jira_settings, env=JIRA_ENV).ensure_ticket(INCIDENT)
    # A fresh client (another process, a restart): only the label search can find the ticket.
    second = JiraTickets(jira_settings, env=JIRA_ENV).ensure_ticket(INCIDENT)

    assert (first.key, first.created) == ("OPS-1", True)
    assert (second.key, second.created) == ("OPS-1", False)
    assert len(jira_fake.issues) == 1
    assert len([r for r in jira_fake.calls("POST") if r.path == "/rest/api/2/issue"]) == 1
    [comment] = jira_fake.issues["OPS-1"].comments
    assert "inc-42 fired again" in comment["body"]


def test_a_fresh_ticket_missing_from_the_search_index_is_not_duplicated(
    jira_fake: FakeJira, tickets: JiraTickets
) -> None:
    tickets.ensure_ticket(INCIDENT)
    jira_fake.issues["OPS-1"].fields["labels"] = []  # the search index has not caught up yet

    again = tickets.ensure_ticket(INCIDENT)

    assert (again.key, again.created) == ("OPS-1", False)
    assert len(jira_fake.issues) == 1


def test_resolve_comments_then_transitions(jira_fake: FakeJira, tickets: JiraTickets) -> None:
    key = tickets.ensure_ticket(INCIDENT).key

    assert tickets.resolve(key, "Resolved by Cloud Conductor: latency back to normal.") is True

    issue = jira_fake.issues[key]
    assert issue.status == "Done"
    assert issue.transitions_done == ["Done"]
    assert issue.comments[-1]["body"].startswith("Resolved by Cloud Conductor")
    [transition] = jira_fake.calls("POST", "/transitions")
    assert transition.json()["transition"] == {"id": 31}
    # The comment came first, then the transition.
    writes = [r.path for r in jira_fake.calls("POST") if r.path.startswith(f"/rest/api/2/issue/{key}/")]
    assert writes == [f"/rest/api/2/issue/{key}/comment", f"/rest/api/2/issue/{key}/transitions"]


def test_resolving_a_done_ticket_reports_false(jira_fake: FakeJira, tickets: JiraTickets) -> None:
    key = tickets.ensure_ticket(INCIDENT).key
    tickets.resolve(key, "done")
    assert tickets.resolve(key, "done again") is False
    assert len(jira_fake.calls("POST", "/transitions")) == 1


def test_resolve_without_the_configured_transition_names_the_offered_ones(
    jira_fake: FakeJira, tickets: JiraTickets
) -> None:
    key = tickets.ensure_ticket(INCIDENT).key
    jira_fake.transitions = [{"id": "5", "name": "Close Issue", "to": "Closed"}]
    with pytest.raises(IntegrationError, match="Close Issue") as caught:
        tickets.resolve(key, "done")
    assert caught.value.retryable is False


def test_priority_refused_by_the_project_is_dropped(jira_fake: FakeJira, tickets: JiraTickets) -> None:
    jira_fake.accepts_priority = False
    assert tickets.ensure_ticket(INCIDENT).created
    first, second = jira_fake.calls("POST", "/rest/api/2/issue")
    assert "priority" in first.json()["fields"]
    assert "priority" not in second.json()["fields"]


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        pytest.param(429, True, id="throttled"),
        pytest.param(503, True, id="unavailable"),
        pytest.param(500, True, id="server-error"),
        pytest.param(400, False, id="bad-request"),
        pytest.param(404, False, id="not-found"),
    ],
)
def test_http_errors_map_to_retryable(
    jira_fake: FakeJira, tickets: JiraTickets, status: int, retryable: bool
) -> None:
    jira_fake.fail_next(status, method="POST", path_contains="/rest/api/2/issue")
    with pytest.raises(IntegrationError) as caught:
        tickets.ensure_ticket(INCIDENT)
    assert caught.value.retryable is retryable
    assert caught.value.system == "jira"
    assert "jira-token" not in str(caught.value)


def test_wrong_credentials_are_not_retryable(jira_settings: JiraSettings) -> None:
    tickets = JiraTickets(jira_settings, env={"JIRA_USER": "bot@example.com", "JIRA_API_TOKEN": "wrong"})
    with pytest.raises(IntegrationError) as caught:
        tickets.find_ticket("inc-1")
    assert caught.value.retryable is False
    assert "wrong" not in str(caught.value)


def test_server_personal_access_token_is_sent_as_bearer(
    jira_fake: FakeJira, jira_settings: JiraSettings
) -> None:
    if jira_fake.deployment == "Cloud":
        pytest.skip("Jira Cloud has no personal access tokens")
    jira_fake.tokens = {"pat-123"}
    settings = jira_settings.model_copy(update={"deployment": "server", "user_env": None})
    assert JiraTickets(settings, env={"JIRA_API_TOKEN": "pat-123"}).find_ticket("inc-1") is None
    assert all(r.headers["authorization"] == "Bearer pat-123" for r in jira_fake.requests)


def test_missing_secret_names_the_variable(jira_settings: JiraSettings) -> None:
    with pytest.raises(IntegrationError, match="JIRA_API_TOKEN") as caught:
        JiraTickets(jira_settings, env={"JIRA_USER": "bot@example.com"}).find_ticket("inc-1")
    assert caught.value.retryable is False


def test_incident_label_has_no_spaces(tickets: JiraTickets) -> None:
    assert tickets.incident_label('inc 7/"x"') == "conductor-incident-inc-7--x-"


@pytest.mark.parametrize(
    ("update", "message"),
    [
        pytest.param({"token_env": "my token"}, "environment variable", id="secret-not-env-name"),
        pytest.param({"project": "ops"}, "project key", id="lower-case-project"),
        pytest.param({"labels": ["two words"]}, "spaces", id="label-with-space"),
        pytest.param({"deployment": "cloud", "user_env": None}, "user_env", id="cloud-needs-user"),
        pytest.param({"password": "x"}, "extra", id="no-secrets-in-config"),
    ],
)
def test_settings_validation(update: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JiraSettings.model_validate({"url": "https://jira.example.com", "project": "OPS", **update})
