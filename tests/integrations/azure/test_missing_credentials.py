"""A dry run on a machine with no Azure login says, in one line, what would provide a token."""

from __future__ import annotations

from azure.core.exceptions import ClientAuthenticationError

from integrations.azure.appservice import NO_AZURE_CREDENTIALS, to_integration_error


def test_no_token_at_all_names_what_would_provide_one() -> None:
    # What DefaultAzureCredential raises when every credential of its chain is unavailable.
    exc = ClientAuthenticationError(
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\nAttempted ..."
    )
    error = to_integration_error(exc, "get site app")
    assert str(error) == f"get site app: {NO_AZURE_CREDENTIALS}"
    assert "\n" not in str(error) and error.retryable is False


def test_a_refused_login_keeps_its_status() -> None:
    exc = ClientAuthenticationError("invalid_client")
    exc.status_code = 401
    error = to_integration_error(exc, "get site app")
    assert str(error) == "get site app: HTTP 401: invalid_client"
