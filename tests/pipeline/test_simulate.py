"""`conductor simulate`: the pipeline's decisions for a payload, with the store unchanged and no
network used (unless --plan, which reads the target from moto)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import select

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource
from bot.cli.main import run
from bot.config.settings import IncidentSettings
from bot.incidents.apply import MutingContext, apply_alerts
from bot.incidents.silences import add_silence
from bot.matching import parse_matcher
from bot.store import migrate
from bot.store.db import Store
from bot.store.models import Base
from tests.fakes.moto_server import MotoServer

RULES = """
[[rules]]
name = "scale-api"
match = [{ name = "name", value = "HighCPU" }]
runbook = "aws.ecs.scale_service"
target = "aws:ecs:service/prod/{labels[service]}"
params = { step = 2 }

[[rules]]
name = "reboot"
match = [{ name = "name", value = "Stuck" }]
runbook = "aws.ec2.reboot_instance"
target = "aws:ec2:instance/{resource.id}"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{tmp_path / "var"}"\n[aws]\nregion = "us-east-1"\n' + RULES)
    return path


@pytest.fixture
def store(config: Path) -> Store:
    (config.parent / "var").mkdir(exist_ok=True)
    s = Store.connect(f"sqlite:///{config.parent / 'var' / 'conductor.sqlite3'}")
    migrate.upgrade(s)
    return s


def payload(tmp_path: Path, name: str, alerts: list[dict[str, Any]]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"alerts": alerts}))
    return path


def alert(name: str, resource: str, **labels: str) -> dict[str, Any]:
    return {
        "name": name,
        "status": "firing",
        "severity": "error",
        "labels": labels,
        "resource": {"provider": "aws", "type": "ecs:service", "id": resource},
    }


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.engine.connect() as connection:
        return {
            table.name: sorted(tuple(map(str, row)) for row in connection.execute(table.select()))
            for table in Base.metadata.sorted_tables
        }


def seed(store: Store) -> None:
    now = datetime.now(UTC)
    with store.transaction() as session:
        apply_alerts(
            session,
            [
                NormalizedAlert(
                    source="generic",
                    fingerprint="open-one",
                    name="DiskFull",
                    status=AlertStatus.FIRING,
                    resource=Resource(provider=Provider.AWS, type="ecs:service", id="prod/db"),
                )
            ],
            settings=IncidentSettings(),
            muting=MutingContext(),
            now=now,
        )
        add_silence(
            session,
            matchers=[parse_matcher("service=batch")],
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=1),
            created_by="cli:ops",
            comment="maintenance",
            origin="cli",
            now=now,
        )


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any attempt to open a network connection is recorded and refused."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network use in a simulation")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def test_simulate_shows_every_decision_and_changes_nothing(
    config: Path, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], offline: list[Any]
) -> None:
    seed(store)
    before = snapshot(store)
    file = payload(
        tmp_path,
        "storm.json",
        [
            alert("HighCPU", "prod/api", service="api"),  # opens an incident, rule matches, auto run
            {**alert("DiskFull", "prod/db"), "severity": "error"},  # joins the open incident
            alert("HighCPU", "prod/batch", service="batch"),  # silenced
            {**alert("Stuck", "i-1"), "resource": {"provider": "aws", "type": "ec2:instance", "id": "i-1"}},
            alert("Unknown", "x"),  # no rule
        ],
    )
    code = run(["simulate", "--source", "generic", str(file), "--config", str(config), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["alert"]["name"] for r in results] == ["HighCPU", "DiskFull", "HighCPU", "Stuck", "Unknown"]
    api, joined, silenced, stuck, unknown = results
    assert api["incident"]["action"] == "open" and api["incident"]["title"] == "HighCPU on prod/api"
    assert api["rule"] == {"index": 0, "name": "scale-api"}
    assert (api["runbook"], api["target"], api["params"]) == (
        "aws.ecs.scale_service",
        "aws:ecs:service/prod/api",
        {"step": 2},
    )
    assert (api["decision"], api["muted"]) == ("auto_run", None)
    assert joined["incident"]["action"] == "join" and joined["incident"]["id"] == 1
    assert joined["decision"] == "no_action" and "joins open incident 1" in joined["reason"]
    assert silenced["muted"] == "silenced by silence 1"
    assert silenced["decision"] == "no_action" and "silenced by silence 1" in silenced["reason"]
    assert stuck["runbook"] == "aws.ec2.reboot_instance" and stuck["decision"] == "needs_approval"
    assert stuck["reason"] == "the runbook always asks for approval"
    assert (unknown["decision"], unknown["reason"]) == ("no_action", "no action: no rule matches this alert")
    assert snapshot(store) == before
    assert offline == []


def test_an_assumed_score_goes_through_the_detector_gate(
    config: Path, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], offline: list[Any]
) -> None:
    config.write_text(
        config.read_text().replace("params = { step = 2 }", "params = { step = 2 }\nmin_anomaly_score = 0.99")
    )
    file = payload(tmp_path, "one.json", [alert("HighCPU", "prod/api", service="api")])
    assert run(["simulate", "-s", "generic", str(file), "-c", str(config), "--score", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "decision: no_action: below anomaly threshold: score 0.5 < 0.99" in out
    assert "nothing was stored, queued or sent" in out
    assert offline == []


def test_plan_reads_the_target(
    config: Path, store: Store, tmp_path: Path, moto: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="api", containerDefinitions=[{"name": "a", "image": "a", "memory": 64}]
    )
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api", desiredCount=2)
    before = snapshot(store)
    file = payload(tmp_path, "one.json", [alert("HighCPU", "prod/api", service="api")])
    assert run(["simulate", "-s", "generic", str(file), "-c", str(config), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "plan: " in out and "2 -> 4" in out
    assert ecs.describe_services(cluster="prod", services=["api"])["services"][0]["desiredCount"] == 2
    assert snapshot(store) == before


def test_bad_input_is_one_line(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert run(["simulate", "-s", "generic", str(bad), "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {bad}: ")
    assert run(["simulate", "-s", "generic", str(tmp_path / "missing.json"), "-c", str(config)]) == 2
    assert "cannot read" in capsys.readouterr().err
    with Store.connect(f"sqlite:///{tmp_path / 'var' / 'conductor.sqlite3'}").sessions() as session:
        assert session.scalars(select(Base.metadata.tables["raw_events"].c.id)).all() == []
