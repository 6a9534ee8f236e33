from __future__ import annotations

import pydantic
import pytest

from integrations.slack.settings import (
    DEFAULT_API_URL,
    SlackOff,
    SlackSecrets,
    SlackSettings,
    resolve_api_url,
    resolve_secrets,
)

ROUTED = SlackSettings.model_validate(
    {
        "default_channel": "C0DEFAULT",
        "routing": [
            {"match": {"service": "payments-*", "severity": ["critical", "error"]}, "channel": "C0PAYCRIT"},
            {"match": {"service": "payments-*"}, "channel": "C0PAY"},
            {"match": {"provider": "azure"}, "channel": "C0AZURE"},
        ],
    }
)


@pytest.mark.parametrize(
    ("service", "severity", "provider", "channel"),
    [
        pytest.param("payments-api", "critical", "aws", "C0PAYCRIT", id="first-rule-wins"),
        pytest.param("Payments-API", "ERROR", "aws", "C0PAYCRIT", id="case-insensitive"),
        pytest.param("payments-api", "warning", "aws", "C0PAY", id="falls-to-second"),
        pytest.param("search", "critical", "azure", "C0AZURE", id="by-provider"),
        pytest.param("search", "critical", "aws", "C0DEFAULT", id="default"),
        pytest.param(None, "critical", None, "C0DEFAULT", id="missing-service-does-not-match"),
    ],
)
def test_routing(service: str | None, severity: str | None, provider: str | None, channel: str) -> None:
    assert ROUTED.channel_for(service=service, severity=severity, provider=provider) == channel


def test_no_default_channel_routes_nowhere() -> None:
    assert SlackSettings().channel_for(service="x") is None


def test_defaults_are_bolts_variable_names() -> None:
    settings = SlackSettings()
    assert settings.bot_token_env == "SLACK_BOT_TOKEN"
    assert settings.signing_secret_env == "SLACK_SIGNING_SECRET"
    assert settings.app_token_env == "SLACK_APP_TOKEN"
    assert settings.button_signing_secret_env is None


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="channels"):
        SlackSettings.model_validate({"channels": "C1"})


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("xoxb-1234-5678-abcdefABCDEF", id="bot-token"),
        pytest.param("xapp-1-A111-222-abc", id="app-token"),
        pytest.param("8f742231b10e8888abcd991234abcd85", id="hex-secret"),
    ],
)
def test_a_secret_in_config_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        SlackSettings(bot_token_env=value)
    assert "looks like a secret" in str(info.value)
    assert value not in str(info.value)


def test_env_names_must_be_names() -> None:
    with pytest.raises(pydantic.ValidationError, match="environment variable name"):
        SlackSettings(app_token_env="MY TOKEN")


def test_approvers_are_not_configured_here() -> None:
    """`[approvals]` is the one place approvers are configured (bot.config.rules)."""
    with pytest.raises(pydantic.ValidationError, match="approvers"):
        SlackSettings.model_validate({"approvers": {"default": {"users": ["U0ANY"]}}})


@pytest.mark.parametrize(
    ("environ", "reason"),
    [
        pytest.param({}, "$SLACK_BOT_TOKEN is not set", id="no-bot-token"),
        pytest.param({"SLACK_BOT_TOKEN": "  "}, "$SLACK_BOT_TOKEN is not set", id="blank-bot-token"),
        pytest.param({"SLACK_BOT_TOKEN": "xoxb-1"}, "$SLACK_SIGNING_SECRET (HTTP mode)", id="cannot-receive"),
    ],
)
def test_slack_off_says_why(environ: dict[str, str], reason: str) -> None:
    result = resolve_secrets(SlackSettings(), environ)
    assert isinstance(result, SlackOff)
    assert not result
    assert reason in result.reason


def test_http_mode_with_derived_button_secret() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "sign-me"}
    result = resolve_secrets(SlackSettings(), env)
    assert isinstance(result, SlackSecrets)
    assert result.mode == "http"
    assert result.api_url == DEFAULT_API_URL
    assert len(result.button_secret) == 32
    assert b"sign-me" not in result.button_secret
    text = repr(result)
    assert "xoxb-1" not in text
    assert "sign-me" not in text


def test_socket_mode_and_custom_names() -> None:
    settings = SlackSettings(
        bot_token_env="CC_BOT", app_token_env="CC_APP", button_signing_secret_env="CC_BTN"
    )
    env = {"CC_BOT": "xoxb-2", "CC_APP": "xapp-2", "CC_BTN": "button-secret"}
    result = resolve_secrets(settings, env)
    assert isinstance(result, SlackSecrets)
    assert result.mode == "socket"
    assert result.signing_secret is None
    assert result.button_secret == b"button-secret"


def test_named_button_secret_missing_is_off() -> None:
    settings = SlackSettings(button_signing_secret_env="CC_BTN")
    result = resolve_secrets(settings, {"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "y"})
    assert isinstance(result, SlackOff)
    assert "$CC_BTN" in result.reason


@pytest.mark.parametrize(
    ("configured", "environ", "expected"),
    [
        pytest.param(None, {}, "https://slack.com/api/", id="default"),
        pytest.param(None, {"SLACK_API_URL": "http://127.0.0.1:9/api"}, "http://127.0.0.1:9/api/", id="env"),
        pytest.param(
            "http://config:1/api/",
            {"SLACK_API_URL": "http://env:2/api/"},
            "http://config:1/api/",
            id="config-wins",
        ),
    ],
)
def test_api_url(configured: str | None, environ: dict[str, str], expected: str) -> None:
    assert resolve_api_url(SlackSettings(api_url=configured), environ) == expected


def test_api_url_must_be_http() -> None:
    with pytest.raises(pydantic.ValidationError, match="http"):
        SlackSettings(api_url="slack.com/api")
