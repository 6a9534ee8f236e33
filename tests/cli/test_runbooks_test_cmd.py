"""`conductor runbooks test PATH`: load a runbook module, check it, run its tests against moto.

Each case runs the real command in its own process (it starts pytest in another one).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "runbooks" / "sqs_visibility_timeout.py"

RUNBOOK = '''
from datetime import timedelta
from pydantic import BaseModel, ConfigDict
from bot.runbook_kit.spec import Plan, Risk, RunResult, runbook

class P(BaseModel):
    model_config = ConfigDict(extra="forbid")

def plan(ctx, target, params):
    return Plan(summary="nothing")

@runbook(id="{id}", title="t", risk=Risk.LOW, params=P, target_kind="aws:sqs:queue", plan=plan,
         idempotent=True)
def act(ctx, target, params):
    """Does nothing."""
    return RunResult.noop("nothing")
'''

TEST = """
from pathlib import Path

def test_plan(runbook_harness, moto_aws):
    harness = runbook_harness(Path(__file__).with_name("{module}.py"))
    assert harness.plan("aws:sqs:queue/q").summary == "{expected}"
"""


def conductor(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        check=False,
    )


def test_the_example_runbook_passes_its_tests() -> None:
    done = conductor("runbooks", "test", EXAMPLE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "acme.sqs.raise_visibility_timeout: loaded from sqs_visibility_timeout.py" in done.stdout
    assert "6 passed" in done.stdout
    assert "runbook tests: passed (1 test file(s))" in done.stdout


def test_a_failing_test_fails_the_command(tmp_path: Path) -> None:
    (tmp_path / "noop_rb.py").write_text(RUNBOOK.format(id="t.failing"))
    (tmp_path / "test_noop_rb.py").write_text(TEST.format(module="noop_rb", expected="something else"))
    done = conductor("runbooks", "test", tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout
    assert "runbook tests: FAILED" in done.stdout
    # the notes say what the declaration lacks
    assert "t.failing: no verify" in done.stdout
    assert "t.failing: no budget" in done.stdout


def test_a_module_without_tests_fails(tmp_path: Path) -> None:
    (tmp_path / "lonely.py").write_text(RUNBOOK.format(id="t.lonely"))
    done = conductor("runbooks", "test", tmp_path / "lonely.py")
    assert done.returncode == 1
    assert "lonely.py: no tests (expected test_lonely.py beside it)" in done.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("def broken(:\n", "SyntaxError at line 1", id="syntax-error"),
        pytest.param("x = 1\n", "registers no runbook", id="no-runbook"),
    ],
)
def test_a_module_that_does_not_load_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "bad.py").write_text(content)
    done = conductor("runbooks", "test", tmp_path / "bad.py")
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    done = conductor("runbooks", "test", tmp_path / "nope.py")
    assert done.returncode == 2
    assert "no such file or directory" in done.stderr
