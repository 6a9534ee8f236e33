"""Every error class of ours descends from `bot.errors.ConductorError`, so one handler per entry
point can render any of them; and `bot/errors.py` stays a leaf that every layer may import."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

from bot.errors import ConductorError

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("bot", "detectors", "runbooks", "integrations")
# Modules that only run under Alembic (they need its operation context to import).
NOT_IMPORTABLE_ALONE = ("bot.store.migrations",)


def first_party_modules() -> list[str]:
    names: list[str] = []
    for package in FIRST_PARTY:
        names.append(package)
        path = [str(ROOT / package)]
        for info in pkgutil.walk_packages(path, prefix=f"{package}."):
            if not info.name.startswith(NOT_IMPORTABLE_ALONE):
                names.append(info.name)
    return sorted(names)


def error_classes() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for name in first_party_modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if value.__module__ == name and issubclass(value, BaseException):
                found.append(value)
    return found


def test_the_walk_finds_the_modules_and_errors_it_should() -> None:
    modules = first_party_modules()
    assert {"bot.errors", "bot.ingest.committer", "integrations.metrics", "runbooks.aws_scaling"} <= set(
        modules
    )
    names = {cls.__qualname__ for cls in error_classes()}
    assert {"ConductorError", "StoreUnavailable", "BodyTooLarge", "TransientError", "NoMetric"} <= names


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_error_class_descends_from_the_root(cls: type[BaseException]) -> None:
    assert issubclass(cls, ConductorError), f"{cls.__module__}.{cls.__qualname__} is outside bot.errors"


def test_bot_errors_imports_nothing_of_ours() -> None:
    tree = ast.parse((ROOT / "bot" / "errors.py").read_text())
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append("." * node.level + (node.module or ""))
    ours = [name for name in imported if name.startswith((".", *FIRST_PARTY))]
    assert ours == []
