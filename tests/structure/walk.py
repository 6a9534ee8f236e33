"""The first-party modules, found on disk and imported, for checks that walk all of them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

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


def classes_defined_in(module: ModuleType) -> list[type]:
    return [
        value
        for _, value in inspect.getmembers(module, inspect.isclass)
        if value.__module__ == module.__name__
    ]


def first_party_classes() -> list[type]:
    return [
        cls for name in first_party_modules() for cls in classes_defined_in(importlib.import_module(name))
    ]
