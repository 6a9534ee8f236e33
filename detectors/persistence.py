"""Model files under `<data_dir>/models/`, with version metadata.

Model files are pickles, and unpickling runs code: only files inside the data directory's `models/`
folder are ever read (symlinks are resolved first), and a file written by an incompatible version of
the detector or numpy is ignored so the caller starts fresh instead of crashing.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import platform
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from detectors.errors import UnsafeModelPath

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # 2: one streaming state per series (detector v2); 3: durations in time (step ring);
# 4: time-of-day envelope
FEATURE_SCHEMA_VERSION = 3


def current_versions() -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "feature_schema": FEATURE_SCHEMA_VERSION,
        "numpy": np.__version__,
        "python": ".".join(platform.python_version_tuple()[:2]),
    }


@dataclass(frozen=True, slots=True)
class LoadOutcome:
    payload: Any | None
    reason: str  # "loaded", or why the caller must retrain


class ModelStore:
    """Reads and writes model files confined to `<data_dir>/models/`."""

    def __init__(self, data_dir: Path) -> None:
        self.root = (Path(data_dir) / "models").resolve()

    def path(self, name: str) -> Path:
        """The file for `name`, refusing anything that resolves outside the models folder."""
        candidate = (self.root / name).resolve()
        if candidate == self.root or not candidate.is_relative_to(self.root):
            raise UnsafeModelPath(f"model path {name!r} is outside {self.root}")
        return candidate

    def save(self, name: str, payload: Any, *, settings: dict[str, Any]) -> Path:
        target = self.path(f"{name}.pkl")
        meta = self.path(f"{name}.json")
        self.root.mkdir(parents=True, exist_ok=True)
        info = {**current_versions(), "settings": settings, "saved_at": datetime.now(UTC).isoformat()}
        self._atomic_write(target, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        self._atomic_write(meta, json.dumps(info, indent=2, sort_keys=True).encode())
        return target

    def load(self, name: str, *, settings: dict[str, Any]) -> LoadOutcome:
        target = self.path(f"{name}.pkl")
        meta = self.path(f"{name}.json")
        if not target.is_file() or not meta.is_file():
            return LoadOutcome(None, "no saved model")
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return LoadOutcome(None, f"unreadable metadata: {exc}")
        expected = {**current_versions(), "settings": settings}
        stale = sorted(k for k, v in expected.items() if info.get(k) != v)
        if stale:
            log.warning("model %s saved by an incompatible version (%s): retraining", name, ", ".join(stale))
            return LoadOutcome(None, "incompatible: " + ", ".join(stale))
        try:
            # Safe by construction: the path is confined to <data_dir>/models and written by save().
            payload = pickle.loads(target.read_bytes())  # noqa: S301
        except (
            OSError,
            pickle.UnpicklingError,
            EOFError,
            AttributeError,
            ImportError,
            TypeError,
            ValueError,
        ) as exc:
            log.warning("model %s unreadable (%s): retraining", name, exc)
            return LoadOutcome(None, f"unreadable: {exc}")
        return LoadOutcome(payload, "loaded")

    def _atomic_write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
