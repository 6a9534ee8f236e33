"""bot.runbook_kit.loader: built-ins by package, user runbooks by directory, clear errors."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from bot.errors import ConductorError
from bot.runbook_kit.loader import RunbookLoadError, load_builtin_runbooks, load_runbook_dirs
from bot.runbook_kit.spec import REGISTRY

AWS_RUNBOOKS = {
    "aws.glue.restart_failed_job",
    "aws.ecs.scale_service",
    "aws.autoscaling.set_capacity",
    "aws.ec2.reboot_instance",
}


def user_runbook(runbook_id: str, *, extra: str = "") -> str:
    return textwrap.dedent(
        f'''
        from pydantic import BaseModel

        from bot.runbook_kit.spec import Plan, RunResult, Risk, runbook


        class Params(BaseModel):
            pass


        def plan(ctx, target, params):
            return Plan(summary="nothing")


        @runbook(id="{runbook_id}", title="t", risk=Risk.LOW, params=Params,
                 target_kind="aws:glue:job", plan=plan, idempotent=True)
        def act(ctx, target, params):
            """A user runbook."""
            return RunResult.noop("nothing")
        {extra}
        '''
    )


def unique_id() -> str:
    return f"test.user.{uuid.uuid4().hex[:8]}"


def test_builtins_register_every_aws_runbook() -> None:
    names = load_builtin_runbooks()

    assert {
        "runbooks.aws_glue_restart_failed_job",
        "runbooks.aws_ecs_scale_service",
        "runbooks.aws_autoscaling_set_capacity",
        "runbooks.aws_ec2_reboot_instance",
    } <= set(names)
    assert AWS_RUNBOOKS.issubset(REGISTRY.ids())
    assert load_builtin_runbooks() == names  # importing twice registers nothing twice


def test_user_directories_load_by_file_path_with_unique_module_names(tmp_path: Path) -> None:
    first, second = tmp_path / "team-a", tmp_path / "team-b"
    ids = [unique_id(), unique_id()]
    for directory, runbook_id in zip((first, second), ids, strict=True):
        directory.mkdir()
        (directory / "restart.py").write_text(user_runbook(runbook_id))  # same file name in both
        (directory / "_helpers.py").write_text("raise RuntimeError('private modules are not loaded')")

    names = load_runbook_dirs([first, second])

    assert len(names) == 2
    assert len(set(names)) == 2
    assert all(sys.modules[name].__file__ for name in names)
    for runbook_id in ids:
        spec = REGISTRY.get(runbook_id)
        assert spec is not None
        assert spec.summary == "A user runbook."
    assert load_runbook_dirs([first, second]) == names  # idempotent


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        pytest.param("def broken(:\n", "SyntaxError at line 1", id="syntax-error"),
        pytest.param("import not_a_module_anywhere\n", "ModuleNotFoundError", id="missing-import"),
        pytest.param(None, "registered twice", id="duplicate-id"),
    ],
)
def test_a_bad_module_is_named_in_a_conductor_error(tmp_path: Path, source: str | None, reason: str) -> None:
    bad = tmp_path / "bad_runbook.py"
    bad.write_text(source if source is not None else user_runbook("aws.glue.restart_failed_job"))
    load_builtin_runbooks()

    with pytest.raises(RunbookLoadError) as info:
        load_runbook_dirs([tmp_path])

    assert isinstance(info.value, ConductorError)
    assert info.value.path == bad
    assert str(bad) in str(info.value)
    assert reason in str(info.value)


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RunbookLoadError, match="not a directory"):
        load_runbook_dirs([tmp_path / "nope"])


def test_tests_kept_beside_runbooks_are_not_loaded_as_runbooks(tmp_path: Path) -> None:
    runbook_id = f"user.beside.{uuid.uuid4().hex[:8]}"
    (tmp_path / "beside.py").write_text(user_runbook(runbook_id))
    (tmp_path / "test_beside.py").write_text("raise RuntimeError('a test module was imported')\n")
    (tmp_path / "conftest.py").write_text("raise RuntimeError('conftest was imported')\n")
    loaded = load_runbook_dirs([tmp_path])
    assert [name.rsplit(".", 1)[1] for name in loaded] == ["beside"]
    assert REGISTRY.get(runbook_id) is not None


def test_the_example_directory_loads_its_runbook() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "runbooks"
    load_runbook_dirs([examples])
    spec = REGISTRY.get("acme.sqs.raise_visibility_timeout")
    assert spec is not None
    assert spec.rollback is not None and spec.verify is not None and spec.reconcile is not None
