"""A guard for numba's on-disk cache of the compiled kernel.

numba keeps each compiled function's machine code next to its module and reuses it as long as *that
module's* source file is unchanged. The constants a compiled function reads from another module
(`detectors.layout`, `detectors.signals`) are frozen into its code, so a change to them alone would be
ignored by a warm cache and the kernel would run with the old values. The guard keeps a digest of every
source the compiled code depends on next to the cache and, when it differs, empties the cache indexes
of all compiled functions (they are compiled afresh on first use, about 15 s).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent
SOURCES = (
    "signals.py",
    "layout.py",
    "features.py",
    "forest.py",
    "calibration.py",
    "kernel.py",
    "jit_cache.py",
)
STAMP = "detectors-kernel.sources"


def sources_digest(root: Path = PACKAGE) -> str:
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return digest.hexdigest()


def compiled_functions(*modules: Any) -> list[Any]:
    """The cached numba dispatchers defined in these modules."""
    return [
        value
        for module in modules
        for value in vars(module).values()
        if hasattr(value, "py_func")
        and getattr(value, "_cache", None) is not None
        and getattr(value.py_func, "__module__", None) == module.__name__
    ]


def guard(functions: Iterable[Any], root: Path = PACKAGE) -> bool:
    """Empty the functions' cache indexes if the sources changed since they were cached; True if it did.
    A cache directory that cannot be written is left alone (numba then compiles in memory)."""
    caches = [f._cache for f in functions]
    if not caches:
        return False
    digest = sources_digest(root)
    stamp = Path(caches[0].cache_path) / STAMP
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    for cache in caches:
        try:
            cache.flush()
        except OSError:
            continue
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        pass
    return True
