"""LogAnalyticsClient: the real azure-monitor-query SDK over HTTPS to the recording logs fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import IntegrationError
from integrations.azure.logs import ErrorCount, LogAnalyticsClient, render_exceptions_query
from integrations.azure.settings import DEFAULT_EXCEPTIONS_KQL, AzureSettings
from tests.fakes.azure_arm import FakeCredential
from tests.fakes.azure_logs import FakeAzureLogs

from .conftest import SUB, WORKSPACE

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SITE_ID = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/web1"


@pytest.fixture
def client(azure_settings: AzureSettings, credential: FakeCredential) -> LogAnalyticsClient:
    return LogAnalyticsClient(azure_settings, credential=credential, clock=lambda: NOW)


def test_exceptions_returns_messages_by_count_and_queries_the_app(
    logs: FakeAzureLogs, client: LogAnalyticsClient
) -> None:
    logs.set_errors(WORKSPACE, [("NullReferenceException: x", 2), ("System.OutOfMemoryException: y", 9)])

    errors = client.exceptions(SITE_ID, NOW - timedelta(minutes=10))

    assert errors == [
        ErrorCount("System.OutOfMemoryException: y", 9),
        ErrorCount("NullReferenceException: x", 2),
    ]
    [request] = logs.calls("POST")
    assert request.path == f"/v1/workspaces/{WORKSPACE}/query"
    assert request.headers["authorization"].startswith("Bearer ")
    body = request.json()
    assert body["timespan"].startswith("2026-11-20T11:50:00")
    query = body["query"]
    assert 'AppRoleName =~ "web1"' in query
    assert f'_ResourceId =~ "{SITE_ID.lower()}"' in query
    assert "datetime(2026-11-20T11:50:00Z)" in query
    assert "datetime(2026-11-20T12:00:00Z)" in query


def test_partial_result_is_used(logs: FakeAzureLogs, client: LogAnalyticsClient) -> None:
    logs.set_errors(WORKSPACE, [("OOMKilled", 4)])
    logs.partial_error = {"code": "PartialError", "message": "query limits exceeded"}

    assert client.exceptions("web1", NOW - timedelta(minutes=10)) == [ErrorCount("OOMKilled", 4)]


def test_a_query_without_message_and_count_columns_is_an_error(
    logs: FakeAzureLogs, client: LogAnalyticsClient
) -> None:
    logs.set_table(WORKSPACE, [{"name": "Text", "type": "string"}], [["boom"]])
    with pytest.raises(IntegrationError, match="Message/Count") as caught:
        client.exceptions("web1", NOW - timedelta(minutes=10))
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        pytest.param(429, True, id="throttled"),
        pytest.param(503, True, id="unavailable"),
        pytest.param(400, False, id="bad-query"),
        pytest.param(403, False, id="forbidden"),
    ],
)
def test_http_errors_map_to_retryable(
    logs: FakeAzureLogs, client: LogAnalyticsClient, status: int, retryable: bool
) -> None:
    logs.set_errors(WORKSPACE, [])
    logs.fail_next(status)
    with pytest.raises(IntegrationError) as caught:
        client.exceptions("web1", NOW - timedelta(minutes=10))
    assert caught.value.retryable is retryable


def test_unknown_workspace_is_not_retryable(client: LogAnalyticsClient) -> None:
    with pytest.raises(IntegrationError) as caught:
        client.exceptions("web1", NOW - timedelta(minutes=10), workspace_id="not-a-workspace")
    assert caught.value.retryable is False


def test_no_workspace_configured(azure_settings: AzureSettings, credential: FakeCredential) -> None:
    settings = azure_settings.model_copy(update={"workspace_id": None})
    with pytest.raises(IntegrationError, match="workspace_id") as caught:
        LogAnalyticsClient(settings, credential=credential).exceptions("web1", NOW)
    assert caught.value.retryable is False


def test_template_values_are_escaped() -> None:
    query = render_exceptions_query(
        DEFAULT_EXCEPTIONS_KQL, app='we"b1', since=NOW - timedelta(minutes=5), until=NOW, limit=7
    )
    assert 'AppRoleName =~ "we\\"b1"' in query
    assert "top 7 by Count desc" in query


@pytest.mark.parametrize(
    ("update", "message"),
    [
        pytest.param({"oom_pattern": "(unclosed"}, "regular expression", id="bad-regex"),
        pytest.param(
            {"exceptions_kql": "AppExceptions | where X == $nope"}, "unknown placeholders", id="bad-kql"
        ),
        pytest.param({"logs_endpoint": "http://api.loganalytics.io"}, "https", id="http"),
    ],
)
def test_settings_validation(update: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AzureSettings.model_validate(update)
