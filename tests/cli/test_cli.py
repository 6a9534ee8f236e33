"""The `conductor` commands against a real store (and moto for the runbook commands)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from sqlalchemy import select

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource
from bot.cli.common import os_user
from bot.cli.main import run
from bot.config.settings import IncidentSettings
from bot.incidents.apply import MutingContext, apply_alerts
from bot.store import migrate
from bot.store.db import Store
from bot.store.models import AuditRecord, DeadLetter, Incident, RawEvent, RunbookRun, Silence
from tests.fakes.moto_server import MotoServer


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{tmp_path / "var"}"\n')
    return path


@pytest.fixture
def store(config: Path) -> Store:
    s = Store.connect(f"sqlite:///{config.parent / 'var' / 'conductor.sqlite3'}")
    (config.parent / "var").mkdir(exist_ok=True)
    migrate.upgrade(s)
    return s


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def open_incident(store: Store) -> int:
    alert = NormalizedAlert(
        source="generic",
        fingerprint="f1",
        name="DiskFull",
        status=AlertStatus.FIRING,
        resource=Resource(provider=Provider.AWS, type="ec2:instance", id="i-1"),
    )
    with store.transaction() as session:
        report = apply_alerts(
            session, [alert], settings=IncidentSettings(), muting=MutingContext(), now=datetime.now(UTC)
        )
    return report.opened[0]


def test_incident_commands(config: Path, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    incident_id = open_incident(store)
    code, out, _ = cli(capsys, "incidents", "list", "--config", str(config))
    assert code == 0 and "DiskFull on i-1" in out
    code, out, _ = cli(capsys, "incidents", "show", str(incident_id), "--config", str(config))
    assert code == 0 and '"fingerprint": "f1"' in out
    assert cli(capsys, "incidents", "ack", str(incident_id), "--config", str(config))[0] == 0
    code, _, err = cli(capsys, "incidents", "ack", str(incident_id), "--config", str(config))
    assert code == 2 and "only an open incident can be acknowledged" in err
    assert cli(capsys, "incidents", "resolve", str(incident_id), "--config", str(config))[0] == 0
    code, _, err = cli(capsys, "incidents", "show", "999", "--config", str(config))
    assert code == 2 and "no incident 999" in err
    with store.sessions() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        me = f"cli:{os_user()}"  # the CLI acts as its OS user
        assert (incident.status, incident.acknowledged_by, incident.resolved_by) == ("resolved", me, me)
    code, out, _ = cli(capsys, "audit", "tail", "-n", "5", "--config", str(config))
    assert code == 0 and "incident.acknowledged" in out and "incident.resolved" in out


def test_silence_commands(config: Path, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys,
        "silences",
        "add",
        "alertname=DiskFull",
        'service=~"api.*"',
        "--duration",
        "2h",
        "--comment",
        "maintenance",
        "--config",
        str(config),
    )
    assert code == 0 and out.startswith("silence 1 until")
    code, out, _ = cli(capsys, "silences", "list", "--config", str(config))
    assert 'name="DiskFull"' in out and "maintenance" in out
    code, _, err = cli(capsys, "silences", "add", "nonsense", "--config", str(config))
    assert code == 2 and "expected NAME=VALUE" in err
    assert cli(capsys, "silences", "expire", "1", "--config", str(config))[0] == 0
    with store.sessions() as session:
        assert [s.expired_at is not None for s in session.scalars(select(Silence))] == [True]


def test_dead_letter_replay(config: Path, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    with store.transaction() as session:
        session.add(
            DeadLetter(
                source="generic",
                received_at=datetime.now(UTC),
                content_type="application/json",
                headers={},
                body=b'{"name": "Fixed", "status": "firing"}',
                reason="a parser bug, since fixed",
            )
        )
        session.add(
            DeadLetter(
                source="generic",
                received_at=datetime.now(UTC),
                content_type="application/json",
                headers={},
                body=b'{"name": "x", "status": "exploded"}',
                reason="bad status",
            )
        )
    code, out, _ = cli(capsys, "deadletter", "list", "--config", str(config))
    assert "a parser bug" in out and "bad status" in out
    code, out, _ = cli(capsys, "deadletter", "show", "2", "--config", str(config))
    assert "exploded" in out
    code, out, _ = cli(capsys, "deadletter", "replay", "1", "--config", str(config))
    assert code == 0 and "queued as raw event" in out
    code, out, _ = cli(capsys, "deadletter", "replay", "2", "--config", str(config))
    assert "still unparseable" in out
    with store.sessions() as session:
        [raw] = session.scalars(select(RawEvent)).all()
        assert raw.status == "pending" and b"Fixed" in raw.body


def test_runbooks_list(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "runbooks", "list", "--config", str(config))
    assert code == 0
    for runbook_id in (
        "aws.glue.restart_failed_job",
        "aws.ecs.scale_service",
        "azure.appservice.restart",
        "jira.open_ticket",
        "pagerduty.page",
    ):
        assert runbook_id in out


def test_run_dry_run_changes_nothing_then_a_real_run_is_queued(
    config: Path, store: Store, moto: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "a", "image": "a", "memory": 64}]
    )
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=2)
    args = [
        "run",
        "aws.ecs.scale_service",
        "--target",
        "aws:ecs:service/prod/web",
        "--param",
        "desired_count=5",
        "--config",
        str(config),
    ]
    code, out, _ = cli(capsys, *args, "--dry-run")
    assert code == 0 and "2 -> 5" in out and "dry run: nothing was changed" in out
    assert ecs.describe_services(cluster="prod", services=["web"])["services"][0]["desiredCount"] == 2
    with store.sessions() as session:
        assert session.scalars(select(RunbookRun)).all() == []
    code, out, _ = cli(capsys, *args)
    assert code == 0 and "run 1: approved" in out and "queued" in out
    code, _, err = cli(
        capsys, "run", "aws.ecs.scale_service", "--target", "aws:glue:job/x", "--config", str(config)
    )
    assert code == 2 and "acts on aws:ecs:service" in err
    code, _, err = cli(
        capsys, "run", "aws.ecs.scale_servce", "--target", "aws:ecs:service/a/b", "--config", str(config)
    )
    assert code == 2 and 'no runbook named "aws.ecs.scale_servce"' in err


def write_config(path: Path, extra: str) -> Path:
    path.write_text(path.read_text() + extra)
    return path


def test_the_cli_acts_as_its_os_user_with_its_configured_role(
    config: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = open_incident(store)
    write_config(config, '[permissions.cli]\nrole = "viewer"\n')
    assert cli(capsys, "incidents", "list", "--config", str(config))[0] == 0
    code, _, err = cli(capsys, "incidents", "ack", str(incident_id), "--config", str(config))
    assert code == 2 and "has the viewer role; incident.acknowledge needs responder" in err
    code, _, err = cli(
        capsys, "silences", "add", 'alertname=~".*"', "--duration", "90d", "--config", str(config)
    )
    assert code == 2 and "needs responder" in err
    with store.sessions() as session:
        assert session.get(Incident, incident_id).status == "open"  # type: ignore[union-attr]
        assert session.scalars(select(Silence)).all() == []
        refused = [r for r in session.scalars(select(AuditRecord)) if r.action == "access.refused"]
    assert [(r.actor, r.details["reason"]) for r in refused] == [(f"cli:{os_user()}", "role_too_low")] * 2


def test_as_names_a_person_only_when_the_config_allows_it(
    config: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--as` used to be taken on trust: one shell user could vote as every approver."""
    incident_id = open_incident(store)
    code, _, err = cli(capsys, "incidents", "ack", str(incident_id), "--as", "alice", "--config", str(config))
    assert code == 2 and "unless [permissions.cli] act_as = true" in err
    write_config(config, '[permissions]\nusers = { alice = "responder" }\n[permissions.cli]\nact_as = true\n')
    assert cli(capsys, "incidents", "ack", str(incident_id), "--as", "alice", "--config", str(config))[0] == 0
    code, _, err = cli(
        capsys, "incidents", "resolve", str(incident_id), "--as", "mallory", "--config", str(config)
    )
    assert code == 2 and "mallory (via cli:" in err and "viewer role" in err
    with store.sessions() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None and (incident.status, incident.acknowledged_by) == (
            "acknowledged",
            "alice",
        )
        refused = [
            r.details["reason"] for r in session.scalars(select(AuditRecord)) if r.action == "access.refused"
        ]
    assert refused == ["untrusted_forwarded_user", "role_too_low"]
