"""Rows of `alerts` and `incidents` as `IncidentBook` holds them between its load and its write.

A row is the dict of column values that was loaded (or is to be inserted) plus the names of the
columns changed since it was last written, so each write sends only what changed. The columns
and their types are those of `bot.store.models.Alert` / `Incident`; nothing here adds meaning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class TrackedRow:
    """One row as loaded (or to be inserted), with the columns changed since it was last written."""

    __slots__ = ("changed", "stored", "values")

    def __init__(self, values: dict[str, Any], *, stored: bool) -> None:
        self.values = values
        self.stored = stored  # the row exists in the database (loaded, or written since)
        self.changed: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def set(self, name: str, value: Any) -> None:
        if name not in self.values or self.values[name] != value:
            self.values[name] = value
            self.changed.add(name)

    def take_changes(self) -> dict[str, Any]:
        changes = {name: self.values[name] for name in self.changed}
        self.changed = set()
        return changes


class AlertRow(TrackedRow):
    """A row of `alerts`, keyed by (source, fingerprint)."""

    __slots__ = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.values["source"], self.values["fingerprint"])

    @property
    def status(self) -> str:
        return str(self.values["status"])

    @property
    def incident_id(self) -> int | None:
        value = self.values.get("incident_id")
        return None if value is None else int(value)

    @property
    def flapping(self) -> bool:
        return bool(self.values.get("flapping"))


class IncidentRow(TrackedRow):
    """The columns of an `incidents` row that applying alerts reads or writes."""

    __slots__ = ()

    @property
    def id(self) -> int:
        return int(self.values["id"])

    @property
    def status(self) -> str:
        return str(self.values["status"])

    @property
    def group_key(self) -> str:
        return str(self.values["group_key"])

    @property
    def open_group_key(self) -> str | None:
        value = self.values["open_group_key"]
        return None if value is None else str(value)

    @property
    def resolved_at(self) -> datetime | None:
        value = self.values["resolved_at"]
        return value if isinstance(value, datetime) else None
