"""The detector's errors. They derive from the application's root (`bot.errors.ConductorError`), so
entry points catch and render them like every other error; `bot.errors` is the only part of `bot`
the detector imports (it imports nothing itself)."""

from __future__ import annotations

from pathlib import Path

from bot.errors import ConductorError


class DetectorError(ConductorError):
    """Root of the errors the detector raises on purpose."""


class MalformedSeriesFile(DetectorError):
    """A series CSV that cannot be used at all; the message names the file (and the line)."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


class UnsafeModelPath(DetectorError):
    """A model path that resolves outside `<data_dir>/models/`."""
