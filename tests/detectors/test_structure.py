"""The detector package's shape: small modules, no import cycles, its own errors under the
application's root, and numba loaded only when something is scored."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from bot.errors import ConductorError
from detectors import errors

PACKAGE = Path(__file__).resolve().parents[2] / "detectors"
MAX_LINES = 400
COMPILED = {"kernel", "features", "forest", "calibration"}  # the modules that import numba


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.glob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    """Every module a module imports anywhere (top level, inside functions, under TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "detectors":
                found |= {f"detectors.{alias.name}" for alias in node.names}
    return found


def test_every_module_is_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert sizes and all(n <= MAX_LINES for n in sizes.values()), sizes


def test_no_import_cycles_inside_the_package() -> None:
    graph = {
        name: {m.removeprefix("detectors.") for m in _imports(tree) if m.startswith("detectors.")}
        for name, tree in _modules().items()
    }
    assert graph["backtest"] and graph["plot"]  # the walk sees lazy and TYPE_CHECKING imports too

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    return [*path, start]
                if nxt not in path:
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for name in graph if (c := cycle_from(name))]
    assert not cycles, cycles


def test_the_package_uses_only_the_error_root_of_bot() -> None:
    for name, tree in _modules().items():
        from_bot = {m for m in _imports(tree) if m == "bot" or m.startswith("bot.")}
        assert from_bot <= {"bot.errors"}, (name, from_bot)


def test_errors_are_defined_in_one_module_under_the_application_root() -> None:
    defined = {
        (name, node.name)
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(isinstance(b, ast.Name) and b.id.endswith(("Error", "Exception")) for b in node.bases)
    }
    assert defined and {name for name, _ in defined} == {"errors"}
    classes = [getattr(errors, cls) for _, cls in defined]
    assert all(issubclass(c, errors.DetectorError) and issubclass(c, ConductorError) for c in classes)
    assert {c.__name__ for c in classes} >= {"DetectorError", "MalformedSeriesFile", "UnsafeModelPath"}


def test_numba_is_imported_only_by_the_compiled_modules() -> None:
    importers = {
        name for name, tree in _modules().items() if any(m.startswith("numba") for m in _imports(tree))
    }
    assert importers == COMPILED
    # and loading what the CLI and the config need does not load it (start-up stays fast)
    probe = (
        "import sys, detectors.api, detectors.backtest, detectors.settings, detectors.errors; "
        "sys.exit('numba' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


class _RecordingCache:
    """Stands in for numba's per-function cache object (its `cache_path` and `flush()`), so the test
    does not empty the real cache that later processes load (they would all compile again)."""

    def __init__(self, path: Path) -> None:
        self.cache_path = str(path)
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


class _Compiled:
    def __init__(self, cache: _RecordingCache) -> None:
        self._cache = cache


def test_the_jit_cache_is_emptied_when_a_source_it_depends_on_changes(tmp_path: Path) -> None:
    """numba re-validates a cache only against the function's own file; a constant changed in
    detectors/layout.py would otherwise run with its old value."""
    from detectors import calibration, features, forest, kernel
    from detectors.jit_cache import SOURCES, STAMP, compiled_functions, guard, sources_digest

    functions = compiled_functions(features, forest, calibration, kernel)
    assert {f.py_func.__name__ for f in functions} >= {"run_points", "features", "fit_forest", "calibrate"}
    real_stamp = Path(functions[0]._cache.cache_path) / STAMP
    assert real_stamp.read_text() == sources_digest()  # the kernel's import checked and stamped the cache

    sources = tmp_path / "src"
    sources.mkdir()
    for name in SOURCES:
        (sources / name).write_bytes((PACKAGE / name).read_bytes())
    assert sources_digest(sources) == sources_digest()
    caches = [_RecordingCache(tmp_path / "cache"), _RecordingCache(tmp_path / "cache")]
    compiled = [_Compiled(c) for c in caches]
    assert guard(compiled, root=sources) is True  # no stamp yet: emptied, stamped
    assert [c.flushes for c in caches] == [1, 1]
    assert guard(compiled, root=sources) is False  # unchanged sources: the cache is kept
    layout = sources / "layout.py"
    layout.write_text(layout.read_text().replace("SETTLE_POINTS = ", "SETTLE_POINTS = 1 + "))
    assert guard(compiled, root=sources) is True  # a constant changed: every index emptied
    assert [c.flushes for c in caches] == [2, 2]
    assert (tmp_path / "cache" / STAMP).read_text() == sources_digest(sources) != sources_digest()
