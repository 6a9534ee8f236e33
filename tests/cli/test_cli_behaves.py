"""The CLI a new user meets: one-line usage errors (exit 2, no traceback), JSON Lines, no wrapping
off a terminal, check-config listing every problem, `runbooks show`, and --dry-run with no cloud
set up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource
from bot.cli.main import COMMANDS, run
from bot.config.settings import IncidentSettings
from bot.incidents.apply import MutingContext, apply_alerts
from bot.store import migrate
from bot.store.db import Store

CONDUCTOR = Path(sys.executable).parent / "conductor"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{tmp_path / "var"}"\n')
    return path


@pytest.fixture
def store(config: Path) -> Store:
    (config.parent / "var").mkdir(exist_ok=True)
    s = Store.connect(f"sqlite:///{config.parent / 'var' / 'conductor.sqlite3'}")
    migrate.upgrade(s)
    return s


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def open_incidents(store: Store, titles: list[str]) -> None:
    alerts = [
        NormalizedAlert(
            source="generic",
            fingerprint=f"f{i}",
            name=title,
            status=AlertStatus.FIRING,
            resource=Resource(provider=Provider.AWS, type="ec2:instance", id=f"i-{i}"),
        )
        for i, title in enumerate(titles)
    ]
    with store.transaction() as session:
        apply_alerts(
            session, alerts, settings=IncidentSettings(), muting=MutingContext(), now=datetime.now(UTC)
        )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["bogus"], "No such command 'bogus'", id="unknown-command"),
        pytest.param(["incidents", "show"], "Missing argument 'incident_id'", id="missing-id"),
        pytest.param(["incidents", "show", "abc"], "Invalid value for 'incident_id'", id="id-not-a-number"),
        pytest.param(
            ["incidents", "list", "--status", "bogus"], "use open, all or resolved", id="bad-status"
        ),
        pytest.param(["incidents", "list", "--nope"], "No such option", id="unknown-option"),
        pytest.param(
            ["runbooks", "show", "aws.ecs.scale"], 'did you mean "aws.ecs.scale_service"', id="runbook"
        ),
    ],
)
def test_a_usage_mistake_is_one_line_and_exit_2(
    config: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, out, err = cli(capsys, *args, *(["--config", str(config)] if args[0] != "bogus" else []))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and expected in err
    assert "Traceback" not in err


def test_the_installed_command_prints_no_traceback_for_a_mistake(tmp_path: Path) -> None:
    """Through the real entry point (sys.exit, its own process), as a user meets it."""
    env = {**os.environ, "CONDUCTOR_DATA_DIR": str(tmp_path)}
    for args in (["bogus"], ["incidents", "show", "abc"], ["incidents", "list", "--status", "bogus"]):
        done = subprocess.run([str(CONDUCTOR), *args], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_help_lists_every_command_without_importing_them(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["--help"])
    out = capsys.readouterr().out
    assert code == 0
    for name in COMMANDS:
        assert name in out


def test_every_listed_command_is_registered_by_its_module(capsys: pytest.CaptureFixture[str]) -> None:
    """The lazy table and the modules agree: each name's module really provides it."""
    for name in COMMANDS:
        assert run([name, "--help"]) == 0, name
    capsys.readouterr()


def test_json_is_json_lines(config: Path, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    open_incidents(store, ["DiskFull", "HighCPU"])
    code, out, _ = cli(capsys, "incidents", "list", "--json", "--config", str(config))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert sorted(json.loads(line)["title"] for line in lines) == ["DiskFull on i-0", "HighCPU on i-1"]


def test_output_off_a_terminal_never_wraps(config: Path, store: Store) -> None:
    title = "A" * 60 + "-very-long-alert-name-that-would-wrap-at-eighty-columns-" + "B" * 40
    open_incidents(store, [title])
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    for args in (["incidents", "list"], ["incidents", "list", "--json"], ["runbooks", "list"]):
        done = subprocess.run(
            [str(CONDUCTOR), *args, "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        if args[0] == "incidents":
            assert title in done.stdout, args
        longest = max(len(line) for line in done.stdout.splitlines())
        assert longest > 80, args


def test_check_config_lists_every_problem_at_once_with_hints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "var"}"\n'
        "[server]\nprot = 3\n"
        '[[rules]]\nname = "a"\nrunbook = "aws.ecs.scale_servic"\ntarget = "aws:ecs:service/c/s"\n'
        '[[rules]]\nname = "b"\nrunbook = "aws.ecs.scale_service"\ntarget = "aws:ecs:service/c/s"\n'
        'params = { step = "two", stepp = 1 }\n'
        '[[rules]]\nname = "c"\nrunbook = "aws.ecs.scale_service"\ntarget = "aws:ecs:service/c/s"\n'
        'params = { desired_count = "{labels[n]}" }\n'
    )
    code, out, err = cli(capsys, "check-config", "--config", str(path))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        'error: server.prot: unknown key (did you mean "port"?)',
        'rules[0].runbook: no runbook named "aws.ecs.scale_servic" (did you mean "aws.ecs.scale_service"?)',
        "rules[1].params.step: Input should be a valid integer, unable to parse string as an integer "
        "(got 'two')",
        'rules[1].params.stepp: unknown parameter (did you mean "step"?)',
    ]


def test_check_config_refuses_params_the_runbook_would_reject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "var"}"\n'
        '[[rules]]\nname = "b"\nrunbook = "aws.ecs.scale_service"\ntarget = "aws:ecs:service/c/s"\n'
        "params = { step = 0 }\n"
    )
    code, _, err = cli(capsys, "check-config", "--config", str(path))
    assert code == 2 and "rules[0].params: a step of 0 or a factor of 1 changes nothing" in err
    path.write_text(path.read_text().replace("step = 0", "step = 2"))
    assert cli(capsys, "check-config", "--config", str(path))[0] == 0


def test_runbooks_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "runbooks", "show", "aws.ecs.scale_service")
    assert code == 0
    for expected in (
        "risk:      medium",
        "approval:  when risk >= high",
        "budget:    3 runs per 1h per target",
        "cooldown:  10m",
        "desired_count: int | None (default null)",
    ):
        assert expected in out
    code, out, _ = cli(capsys, "runbooks", "show", "aws.glue.restart_failed_job", "--json")
    info = json.loads(out)
    assert info["params"] == [
        {
            "name": "lookback",
            "type": "int",
            "required": False,
            "default": 10,
            "description": "How many recent runs to read (newest first).",
        }
    ]
    assert info["budget"] == {"max_runs": 1, "window": "6h"}


def test_dry_run_with_no_region_or_credentials_says_what_is_missing(config: Path, tmp_path: Path) -> None:
    cleared = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    offline = {
        **cleared,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    args = [
        str(CONDUCTOR),
        "run",
        "aws.ecs.scale_service",
        "--target",
        "aws:ecs:service/c/s",
        "--param",
        "step=1",
        "--dry-run",
        "--config",
        str(config),
    ]
    done = subprocess.run(args, env=offline, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: aws.ecs CreateClient: no AWS region: set [aws] region in the config, or AWS_DEFAULT_REGION"
    ]
    done = subprocess.run(
        args, env={**offline, "AWS_DEFAULT_REGION": "eu-west-1"}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "no AWS credentials: set AWS_PROFILE" in done.stderr
