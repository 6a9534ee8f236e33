"""Every error class of ours descends from `bot.errors.ConductorError`, so one handler per entry
point can render any of them; and `bot/errors.py` stays a leaf that every layer may import."""

from __future__ import annotations

import ast

import pytest

from bot.errors import ConductorError
from tests.structure.walk import FIRST_PARTY, ROOT, first_party_classes, first_party_modules


def error_classes() -> list[type[BaseException]]:
    return [cls for cls in first_party_classes() if issubclass(cls, BaseException)]


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
