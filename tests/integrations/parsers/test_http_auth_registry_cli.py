"""Bearer/basic checks, the parser registry and `conductor alerts parse`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.errors import Unauthenticated, UnknownSource
from integrations.common.http_auth import check_basic, check_bearer
from integrations.registry import PARSERS, get_parser
from tests.integrations.parsers.payloads import PAYLOADS


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": "Bearer t0ken"}, id="exact"),
        pytest.param({"authorization": "bearer t0ken"}, id="lower-case"),
        pytest.param({"Authorization": "Bearer  n3xt "}, id="second-token-spaces"),
    ],
)
def test_bearer_accepted(headers: dict[str, str]) -> None:
    check_bearer(headers, ["t0ken", "n3xt"])


@pytest.mark.parametrize(
    ("headers", "tokens", "reason"),
    [
        pytest.param({}, ["t"], "missing Authorization header", id="missing"),
        pytest.param({"Authorization": "Bearer nope"}, ["t"], "bearer token not accepted", id="wrong"),
        pytest.param({"Authorization": "Basic dDp0"}, ["t"], "not a Bearer credential", id="scheme"),
        pytest.param({"Authorization": "Bearer "}, ["t"], "not a Bearer credential", id="empty"),
        pytest.param(
            {"Authorization": "Bearer t"}, [], "no bearer token is configured", id="none-configured"
        ),
        pytest.param(
            {"Authorization": "Bearer "}, [""], "no bearer token is configured", id="blank-configured"
        ),
    ],
)
def test_bearer_refused(headers: dict[str, str], tokens: list[str], reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        check_bearer(headers, tokens)


def test_basic_accepted() -> None:
    check_basic(_basic("alertmanager", "pa:ss"), {"alertmanager": "pa:ss", "azure": "x"})


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param(_basic("alertmanager", "wrong"), "basic credentials not accepted", id="password"),
        pytest.param(_basic("mallory", "pa:ss"), "basic credentials not accepted", id="user"),
        pytest.param({"Authorization": "Basic %%%"}, "malformed basic credentials", id="not-base64"),
        pytest.param(
            {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
            "malformed basic credentials",
            id="no-colon",
        ),
        pytest.param({"Authorization": "Bearer x"}, "not a Basic credential", id="scheme"),
        pytest.param({}, "missing Authorization header", id="missing"),
    ],
)
def test_basic_refused(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        check_basic(headers, {"alertmanager": "pa:ss"})


def test_registry_has_exactly_the_design_sources() -> None:
    assert set(PARSERS) == {
        "alertmanager",
        "cloudwatch",
        "eventbridge",
        "azure",
        "gcp",
        "pagerduty",
        "grafana",
        "datadog",
        "generic",
    }
    assert get_parser("azure") is PARSERS["azure"]


def test_unknown_source() -> None:
    with pytest.raises(UnknownSource, match="unknown source 'nagios'"):
        get_parser("nagios")


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    from bot.cli.main import build_app

    return build_app(["alerts"])


def test_cli_prints_one_json_object_per_alert(cli: typer.Typer) -> None:
    fixture = PAYLOADS / "alertmanager__mixed_group_k8s_replica_a.json"
    result = CliRunner().invoke(cli, ["alerts", "parse", "--source", "alertmanager", str(fixture)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert list(first) == [
        "source",
        "fingerprint",
        "name",
        "status",
        "severity",
        "summary",
        "description",
        "resource",
        "metric",
        "starts_at",
        "ends_at",
        "labels",
        "annotations",
        "links",
    ]
    assert (first["status"], first["resource"]["id"]) == ("firing", "shop/api")
    assert ": " not in lines[0]  # compact


def test_cli_zero_alerts_is_success_and_says_why(cli: typer.Typer) -> None:
    fixture = PAYLOADS / "aws_sns_https__subscription_confirmation_awsdocs.json"
    result = CliRunner().invoke(cli, ["alerts", "parse", "--source", "cloudwatch", str(fixture)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == f"{fixture}: no alert: SNS subscription confirmation (the server confirms it)\n"
    running = PAYLOADS / "aws_eventbridge__ecs_task_state_change_RUNNING_awsdocs.json"
    result = CliRunner().invoke(cli, ["alerts", "parse", "--source", "eventbridge", str(running)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert "no alert: a handled event type that changes no alert" in result.stderr


def test_cli_reports_unparseable_files_and_exits_2(cli: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"alerts": "nope"}')
    good = PAYLOADS / "generic__single_firing.json"
    result = CliRunner().invoke(cli, ["alerts", "parse", "--source", "generic", str(bad), str(good)])
    assert result.exit_code == 2
    assert f"{bad}: alerts: expected an array, got a string" in result.stderr
    assert json.loads(result.stdout.splitlines()[0])["name"] == "CheckoutLatencyHigh"


def test_cli_unknown_source_exits_2(cli: typer.Typer) -> None:
    result = CliRunner().invoke(
        cli, ["alerts", "parse", "--source", "nagios", str(PAYLOADS / "generic__single_firing.json")]
    )
    assert result.exit_code == 2
    assert "unknown source 'nagios'" in result.stderr


def test_cli_missing_file_exits_2(cli: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = CliRunner().invoke(cli, ["alerts", "parse", "--source", "generic", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}: cannot read" in result.stderr


def test_cli_reads_stdin(cli: typer.Typer) -> None:
    body = (PAYLOADS / "gcp_monitoring__test_notification.json").read_text()
    result = CliRunner().invoke(cli, ["alerts", "parse", "--source", "gcp", "-"], input=body)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["fingerprint"] == "12345"


def test_cli_says_on_stderr_what_the_server_keeps_as_a_dead_letter(cli: typer.Typer, tmp_path: Path) -> None:
    event = json.loads((PAYLOADS / "aws_eventbridge__glue_job_state_change_FAILED_awsdocs.json").read_text())
    event.update({"source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption Warning"})
    path = tmp_path / "spot.json"
    path.write_text(json.dumps(event))
    result = CliRunner().invoke(cli, ["alerts", "parse", "--source", "eventbridge", str(path)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == (
        f"{path}: unsupported event type aws.ec2: EC2 Spot Instance Interruption Warning: no alert "
        "(the server keeps it as a dead letter)\n"
    )


def test_cli_says_when_an_alert_is_generic(cli: typer.Typer) -> None:
    fixture = PAYLOADS / "azure_monitor__prometheus_unknown_service_Fired.json"
    result = CliRunner().invoke(cli, ["alerts", "parse", "--source", "azure", str(fixture)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["name"] == "KubePodCrashLooping"
    assert f"{fixture}: unsupported event type Prometheus: a generic alert" in result.stderr


def test_cli_warns_about_each_emptied_field(cli: typer.Typer, tmp_path: Path) -> None:
    payload = json.loads((PAYLOADS / "gcp_monitoring__incident_open_v1.2.json").read_text())
    payload["incident"]["ended_at"] = "null"
    payload["incident"]["resource"] = "gce_instance"
    path = tmp_path / "gcp.json"
    path.write_text(json.dumps(payload))
    result = CliRunner().invoke(cli, ["alerts", "parse", "--source", "gcp", str(path)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "firing"
    assert sorted(result.stderr.splitlines()) == [
        f"{path}: warning: incident.ended_at: not an ISO 8601 time: 'null' (left empty)",
        f"{path}: warning: incident.resource: expected an object, got a string (left empty)",
    ]


def test_cli_uses_the_parse_options_of_a_config(cli: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[ingest.grafana]\nno_data_status = "ignore"\n')
    fixture = str(PAYLOADS / "grafana_legacy__no_data_high_cpu.json")
    default = CliRunner().invoke(cli, ["alerts", "parse", "--source", "grafana", fixture])
    configured = CliRunner().invoke(
        cli, ["alerts", "parse", "--source", "grafana", fixture, "--config", str(config)]
    )
    assert json.loads(default.stdout)["status"] == "firing"
    assert (configured.exit_code, configured.stdout) == (0, "")
