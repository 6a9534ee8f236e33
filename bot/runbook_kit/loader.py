"""Import runbook modules so their `@runbook` decorators register them in `REGISTRY`.

Built-ins are the modules of the top-level `runbooks` package; users add their own modules, written
the same way, in the directories of `[runbooks] directories`. Importing is all it takes: the
decorator records the runbook at import time. A module that fails to import (a syntax error, a
missing dependency, a runbook id registered twice...) stops start-up with `RunbookLoadError`
naming the file, rather than silently leaving a runbook out.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from bot.errors import ConductorError

BUILTIN_PACKAGE = "runbooks"
# User modules are imported under this prefix, one namespace per directory, so two directories
# may both hold e.g. `restart.py` without clobbering each other (or a built-in) in sys.modules.
USER_PACKAGE_PREFIX = "conductor_user_runbooks"


class RunbookLoadError(ConductorError):
    """A runbook module could not be imported. `path` names the file (or directory)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot load runbooks from {path}: {reason}")


def load_builtin_runbooks(package: str = BUILTIN_PACKAGE) -> list[str]:
    """Import every module of the built-in runbooks package; returns the module names, sorted."""
    root = importlib.import_module(package)
    loaded: list[str] = []
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        name = f"{package}.{info.name}"
        try:
            importlib.import_module(name)
        except Exception as exc:  # any import failure: name the file, keep the cause chained
            raise RunbookLoadError(_module_file(root, info.name), _describe(exc)) from exc
        loaded.append(name)
    return loaded


def load_runbook_dirs(paths: Iterable[Path]) -> list[str]:
    """Import every `*.py` module of each directory by file path, except `_*.py` and the tests
    kept beside runbooks (`test_*.py`, `conftest.py`).

    Returns the module names, in load order (directories in the given order, files sorted). A
    module already loaded from the same file is not imported again, so calling this twice is safe.
    """
    loaded: list[str] = []
    for directory in paths:
        directory = Path(directory).expanduser().resolve()
        if not directory.is_dir():
            raise RunbookLoadError(directory, "not a directory")
        for file in sorted(directory.glob("*.py")):
            if file.name.startswith("_") or file.name.startswith("test_") or file.name == "conftest.py":
                continue
            loaded.append(load_runbook_file(file))
    return loaded


def load_runbook_file(file: Path) -> str:
    """Import one user runbook module by path (once per file); returns its module name."""
    file = Path(file).expanduser().resolve()
    namespace = f"{USER_PACKAGE_PREFIX}.d{hashlib.sha256(str(file.parent).encode()).hexdigest()[:12]}"
    name = f"{namespace}.{_identifier(file.stem)}"
    existing = sys.modules.get(name)
    if existing is None or Path(getattr(existing, "__file__", "") or "").resolve() != file:
        _import_file(name, file)
    return name


def _import_file(name: str, file: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise RunbookLoadError(file, "not an importable Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered before executing, as a normal import does (dataclasses and pydantic look it up).
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # any import failure: name the file, keep the cause chained
        del sys.modules[name]
        raise RunbookLoadError(file, _describe(exc)) from exc
    return module


def _identifier(stem: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in stem)
    return cleaned if cleaned[:1].isalpha() else f"m_{cleaned}"


def _module_file(package: ModuleType, name: str) -> Path:
    for base in package.__path__:
        for candidate in (Path(base) / f"{name}.py", Path(base) / name / "__init__.py"):
            if candidate.exists():
                return candidate
    return Path(package.__path__[0]) / name


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        return f"SyntaxError at line {exc.lineno}: {exc.msg}"
    return f"{type(exc).__name__}: {exc}"
