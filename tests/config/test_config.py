"""Config: the example is valid, errors name the key path and the reason, env overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import run
from bot.config.loader import load_config, parse_settings
from bot.config.validate import validate_references
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"


def test_example_config_is_valid_and_uses_embedded_defaults() -> None:
    loaded = load_config(EXAMPLE, environ={})
    validate_references(loaded.settings)
    defaults = parse_settings({}, {})
    # the example documents the defaults: loading it changes nothing but what it sets explicitly
    assert loaded.settings.model_dump(exclude={"data_dir"}) == defaults.model_dump(exclude={"data_dir"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"bogus": 1}, "bogus: unknown key", id="unknown-top-level"),
        pytest.param({"server": {"prot": 1}}, "server.prot: unknown key", id="unknown-nested"),
        pytest.param(
            {"server": {"port": 70000}},
            "server.port: Input should be less than or equal to 65535",
            id="bad-value",
        ),
        pytest.param(
            {"rules": [{"name": "x", "runbook": "r", "target": "t", "extra": 1}]},
            "rules[0].extra: unknown key",
            id="unknown-in-list",
        ),
        pytest.param(
            {"rules": [{"name": "x", "runbook": "r", "target": "t", "on_insufficient_data": "maybe"}]},
            "rules[0].on_insufficient_data: Input should be 'act', 'approval' or 'skip'",
            id="on-insufficient-data-names-the-allowed-values",
        ),
        pytest.param(
            {"rules": [{"name": "x", "runbook": "r", "target": "t", "approval": "sometimes"}]},
            "rules[0].approval: Input should be 'default', 'never' or 'always'",
            id="rule-approval-names-the-allowed-values",
        ),
        pytest.param(
            {"incidents": {"group_by": ["nope"]}},
            "incidents.group_by: unknown group key 'nope'",
            id="validator-reason",
        ),
        pytest.param(
            {"detector": {"smoothing_points": 6, "threshold": 0.99}},
            "detector: smoothing_points was replaced by smoothing_minutes",
            id="replaced-point-count-key",
        ),
        pytest.param(
            {"detector": {"refractory_points": 288}},
            "detector: refractory_points was replaced by refractory_minutes",
            id="replaced-refractory-key",
        ),
    ],
)
def test_errors_name_the_key_path_and_reason(raw: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, {})
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_rule_naming_an_unknown_runbook_is_an_error() -> None:
    settings = parse_settings(
        {
            "rules": [
                {"name": "a", "runbook": "aws.glue.restart_failed_job", "target": "aws:glue:job/x"},
                {"name": "b", "runbook": "glue.restrt_job", "target": "aws:glue:job/x"},
            ]
        },
        {},
    )
    with pytest.raises(ConfigError) as info:
        validate_references(settings)
    assert info.value.problems == [
        'rules[1].runbook: no runbook named "glue.restrt_job" (did you mean "aws.glue.restart_failed_job"?)'
    ]


def test_environment_overrides_data_dir_and_database_url() -> None:
    settings = parse_settings(
        {"data_dir": "/a"}, {"CONDUCTOR_DATA_DIR": "/b", "CONDUCTOR_DATABASE_URL": "postgresql+psycopg://x/y"}
    )
    assert settings.data_dir == Path("/b")
    assert settings.database_url() == "postgresql+psycopg://x/y"


def test_default_store_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = parse_settings({"data_dir": str(tmp_path)}, {})
    assert settings.database_url() == f"sqlite:///{tmp_path / 'conductor.sqlite3'}"


def test_check_config_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check-config", "--config", str(EXAMPLE)]) == 0
    assert "configuration OK" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nhost = "0.0.0.0"\nprot = 8080\n')
    assert run(["check-config", "--config", str(bad)]) == 2
    assert "server.prot: unknown key" in capsys.readouterr().err


def test_check_config_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check-config", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_check_config_warns_when_nobody_may_approve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONDUCTOR_TOKEN_BOT", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(
        '[[permissions.api_tokens]]\nname = "bot"\nsecret_env = "CONDUCTOR_TOKEN_BOT"\nrole = "viewer"\n'
    )
    assert run(["check-config", "--config", str(path)]) == 0  # valid: warnings do not fail it
    err = capsys.readouterr().err
    assert "nobody may approve aws.ec2.reboot_instance (risk:high)" in err
    assert "refused (fail closed)" in err
    assert "CONDUCTOR_TOKEN_BOT is not set; the token 'bot' is off" in err
    path.write_text(
        '[approvals.approvers."risk:high"]\nusers = ["U1"]\n'
        '[approvals.approvers."risk:medium"]\nrole = "approver"\n'
    )
    assert run(["check-config", "--config", str(path)]) == 0
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"permissions": {"users": {"U1": "root"}}},
            "permissions.users.U1: Input should be",
            id="unknown-role",
        ),
        pytest.param(
            {"permissions": {"api_tokens": [{"name": "Bad Name", "secret_env": "X", "role": "viewer"}]}},
            "permissions.api_tokens[0].name: use lower-case letters",
            id="token-name",
        ),
        pytest.param(
            {"permissions": {"api_tokens": [{"name": "a", "secret_env": "s3cr3t-value!", "role": "viewer"}]}},
            "is not an environment variable name",
            id="secret-in-config",
        ),
        pytest.param(
            {"approvals": {"approvers": {"risk:high": {"role": "responder"}}}},
            "approvals.approvers.risk:high.role",
            id="approver-role-below-approver",
        ),
    ],
)
def test_permission_settings_are_checked(raw: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, {})
    assert expected in str(caught.value)


def test_an_auth_mode_that_needs_a_secret_must_name_its_variable() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"ingest": {"auth": {"pagerduty": {"mode": "pagerduty"}}}}, {})
    assert info.value.problems == [
        "ingest.auth.pagerduty: mode 'pagerduty' needs secret_env (the variable holding the secret)"
    ]


def test_check_config_builds_what_serve_builds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A database URL whose driver is not installed passes the schema but would stop `serve`."""
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "mysql+nosuchdriver://conductor@db/conductor"\n')
    assert run(["check-config", "--config", str(config)]) == 2
    assert "database.url: " in capsys.readouterr().err


# Someone may approve every runbook that can need it, so only the warnings under test remain.
APPROVERS = {"approvals": {"approvers": {"risk:high": {"users": ["U1"]}, "risk:medium": {"users": ["U1"]}}}}


def test_start_up_warnings_include_the_configurations_own() -> None:
    from bot.preflight import startup_warnings

    warnings = startup_warnings(parse_settings({}, {}), host="127.0.0.1", environ={})
    assert [w.split(":")[0] for w in warnings] == ["approvals.approvers", "approvals.approvers"]


@pytest.mark.parametrize(
    ("host", "env", "expected"),
    [
        pytest.param("127.0.0.1", {}, [], id="loopback-is-quiet"),
        pytest.param("localhost", {}, [], id="localhost-is-quiet"),
        pytest.param(
            "0.0.0.0", {"CONDUCTOR_API_TOKEN": "t"}, ["accept unauthenticated requests"], id="open-sources"
        ),
        pytest.param("10.0.0.5", {}, ["accept unauthenticated", "no API token"], id="open-and-no-token"),
    ],
)
def test_start_up_warnings_on_a_reachable_address(
    host: str, env: dict[str, str], expected: list[str]
) -> None:
    from bot.preflight import startup_warnings

    warnings = startup_warnings(parse_settings(APPROVERS, {}), host=host, environ=env)
    assert len(warnings) == len(expected)
    for warning, words in zip(warnings, expected, strict=True):
        assert words in warning and host in warning


def test_closed_sources_and_a_token_give_no_warning() -> None:
    from bot.preflight import startup_warnings

    settings = parse_settings(
        {
            **APPROVERS,
            "ingest": {
                "allow_unauthenticated": False,
                "auth": {"alertmanager": {"mode": "bearer", "secret_env": "AM_TOKEN"}},
            },
        },
        {},
    )
    env = {"CONDUCTOR_API_TOKEN": "t", "AM_TOKEN": "a"}
    assert startup_warnings(settings, host="0.0.0.0", environ=env) == []
    missing = startup_warnings(settings, host="0.0.0.0", environ={"CONDUCTOR_API_TOKEN": "t"})
    assert missing == [
        "ingest.auth.alertmanager: AM_TOKEN is not set; every alertmanager webhook will get 401"
    ]


def test_check_config_prints_the_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[server]\nhost = "0.0.0.0"\n')
    assert run(["check-config", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "warning: serving on 0.0.0.0" in err and "accept unauthenticated requests" in err
