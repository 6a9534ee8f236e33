"""`conductor sweep run|list` and `GET /api/sweeps`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.cli.main import run
from bot.http.app import create_app
from bot.runtime import Runtime
from bot.sweeps.runner import run_sweep
from tests.e2e.server import free_port
from tests.fakes.moto_server import MotoServer
from tests.sweeps.conftest import context_for, make_runtime
from tests.sweeps.test_budget import create_budget

CONFIG = """
data_dir = "{data_dir}"

[cloudwatch]
selection = "list_metrics"
max_attempts = 1

[[sweeps]]
name = "budgets"
kind = "budget"
account_id = "123456789012"
schedule = {{ cron = "0 * * * *" }}

[[sweeps]]
name = "ec2-cpu"
kind = "anomaly"
enabled = false
cloudwatch = [{{ namespace = "AWS/EC2", metric = "CPUUtilization", dimension_names = ["InstanceId"] }}]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(data_dir=tmp_path / "var"))
    return path


def test_sweep_run_prints_findings(
    moto: MotoServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_budget("team-a", 200, 250)

    assert run(["sweep", "run", "budgets", "--config", str(config)]) == 0

    out = capsys.readouterr().out
    assert "budgets (budget): ok, 1 series scanned, 1 findings" in out
    assert "source aws.budgets: 1 series, healthy" in out
    assert "budget team-a: 250.00 of 200.00 USD (125%, alert at 80%)" in out


def test_sweep_run_json_and_list(moto: MotoServer, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sweep", "run", "budgets", "--json", "--config", str(config)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["sweep"], report["status"], report["findings"]) == ("budgets", "ok", [])

    assert run(["sweep", "list", "--json", "--config", str(config)]) == 0
    overview = json.loads(capsys.readouterr().out)
    by_name = {s["name"]: s for s in overview["sweeps"]}
    assert by_name["budgets"]["last_run"]["status"] == "ok"
    assert by_name["budgets"]["last_run"]["trigger"] == "manual"
    assert by_name["budgets"]["next_run"].endswith(":00:00Z")
    assert by_name["ec2-cpu"]["last_run"] is None and by_name["ec2-cpu"]["next_run"] is None

    assert run(["sweep", "list", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert "budgets" in table and "ec2-cpu" in table and "disabled" in table


def test_unknown_sweep_exits_2_and_names_the_known_ones(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sweep", "run", "nope", "--config", str(config)]) == 2
    assert "no sweep named 'nope' (known: budgets, ec2-cpu)" in capsys.readouterr().err


def test_api_shows_last_and_next_run_and_unhealthy_sources(
    moto: MotoServer, data_dir: Path, runtimes: list[Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeps: list[dict[str, Any]] = [
        {
            "name": "budgets",
            "kind": "budget",
            "account_id": "123456789012",
            "schedule": {"cron": "0 3 1 1 *"},
        },
        {
            "name": "ec2-cpu",
            "kind": "anomaly",
            "cloudwatch": [{"namespace": "AWS/EC2", "metric": "CPUUtilization"}],
        },
    ]
    runtime = make_runtime(
        data_dir,
        sweeps,
        aws={"connect_timeout": 0.5, "read_timeout": 0.5},
        permissions={"anonymous_read": ["api"]},  # read without a token (the opt-out)
    )
    runtimes.append(runtime)
    create_budget("team-a", 100, 95)
    assert run_sweep("budgets", context=context_for(runtime)).status == "ok"
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # CloudWatch unreachable
    assert run_sweep("ec2-cpu", context=context_for(runtime)).status == "degraded"

    with TestClient(create_app(runtime)) as client:  # the lifespan starts the scheduler
        body = client.get("/api/sweeps").json()
        one = client.get("/api/sweeps/budgets").json()
        missing = client.get("/api/sweeps/nope")

    assert body["scheduler"]["leader"] == runtime.identity
    by_name = {s["name"]: s for s in body["sweeps"]}
    budgets = by_name["budgets"]
    assert budgets["schedule"] == "cron 0 3 1 1 *"
    assert budgets["next_run"].endswith("-01-01T03:00:00Z")
    last = budgets["last_run"]
    assert (last["status"], last["series_scanned"], last["findings_count"]) == ("ok", 1, 1)
    assert last["duration_seconds"] is not None and "findings" not in last
    assert budgets["healthy"] is True
    cpu = by_name["ec2-cpu"]
    assert cpu["healthy"] is False and cpu["unhealthy_sources"] == ["cloudwatch"]
    assert cpu["last_run"]["sources"][0]["error"]
    assert cpu["schedule"] == "every 15m"
    assert one["last_run"]["findings"][0]["budget"] == "team-a"
    assert missing.status_code == 404
