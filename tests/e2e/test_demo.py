"""`make demo` (python -m bot.demo) on a fresh store: the alert becomes an incident, a decision, a
run that is verified, a reboot waiting for approval, and a KPI report, with no cloud account."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.server import free_port

pytestmark = [pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_walks_through_the_whole_loop() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CONDUCTOR_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bot.demo", "--once", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for expected in (
        "incident 1 opened: HighCPU on demo/checkout-api",
        "decision: auto_run: aws.ecs.scale_service runs automatically",
        "desiredCount 2 -> 4",
        "run 1 succeeded: verified; the incident resolved",
        "approval 1 waits: aws.ec2.reboot_instance",
        "automatic resolution: 100% (1 of 1 resolved)",
        "aws.ecs.scale_service: 1 runs, 100% succeeded",
        "Open the console: http://127.0.0.1:",
    ):
        assert expected in out, out
    assert "Traceback" not in out + done.stderr


def test_the_demo_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.main import run

    assert run(["check-config", "--config", str(ROOT / "config.demo.toml")]) == 0
    assert "configuration OK" in capsys.readouterr().out
