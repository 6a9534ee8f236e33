"""What `conductor runbooks test PATH` does: load the runbook modules, check how each runbook is
declared, then run the modules' tests with the runbook-testing pytest plugin.

A module `foo.py` is tested by `test_foo.py` beside it or in a `tests/` directory beside it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.runbook_kit.spec import Risk, RunbookSpec
from bot.runbook_testing.harness import load_runbook_module

PLUGIN = "bot.runbook_testing.plugin"


@dataclass(frozen=True)
class ModuleCheck:
    path: Path
    runbooks: list[RunbookSpec[Any]]
    tests: list[Path]
    notes: list[str] = field(default_factory=list)  # advice, not failures


def runbook_modules(path: Path) -> list[Path]:
    """The module at `path`, or the runbook modules of the directory `path`."""
    if path.is_dir():
        return [
            p
            for p in sorted(path.glob("*.py"))
            if not p.name.startswith(("_", "test_")) and p.name != "conftest.py"
        ]
    return [path]


def tests_of(module: Path) -> list[Path]:
    name = f"test_{module.stem}.py"
    return [p for p in (module.with_name(name), module.parent / "tests" / name) if p.is_file()]


def notes_on(spec: RunbookSpec[Any]) -> list[str]:
    """Declarations that are legal but that an on-call engineer would want to know about."""
    notes: list[str] = []
    if not (isinstance(spec.params, type) and issubclass(spec.params, BaseModel)):
        notes.append("params is not a pydantic model")
    elif spec.params.model_config.get("extra") != "forbid":
        notes.append("params model accepts unknown keys (set extra='forbid' so typos are refused)")
    if spec.verify is None:
        notes.append("no verify: a run counts as done as soon as it acts")
    if spec.rollback is None and spec.risk.rank >= Risk.MEDIUM.rank:
        notes.append(f"risk {spec.risk.value} and no rollback")
    if spec.budget is None:
        notes.append("no budget: nothing limits how often it runs on one target")
    return notes


def inspect(path: Path) -> list[ModuleCheck]:
    """Load every module (raising `RunbookLoadError` naming the file) and describe it."""
    checks = []
    for module in runbook_modules(path):
        specs = load_runbook_module(module)
        notes = [f"{spec.id}: {note}" for spec in specs for note in notes_on(spec)]
        checks.append(ModuleCheck(path=module, runbooks=specs, tests=tests_of(module), notes=notes))
    return checks


def run_tests(files: Sequence[Path], *, extra_args: Sequence[str] = ()) -> int:
    """pytest on `files` with the plugin, in a child process (a fresh interpreter per check)."""
    command = [sys.executable, "-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider", "-q"]
    command += [str(f) for f in files] + list(extra_args)
    return subprocess.run(command, check=False).returncode  # noqa: S603 - our own interpreter
