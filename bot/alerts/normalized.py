"""The normalized alert: the pipeline's currency and the `conductor alerts parse` output.

Field names are a public interface (see DESIGN.md); do not rename them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    UNKNOWN = "unknown"


class Provider(StrEnum):
    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"
    KUBERNETES = "kubernetes"
    OTHER = "other"


class Resource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider = Provider.OTHER
    account: str | None = None
    region: str | None = None
    type: str | None = None
    id: str | None = None
    name: str | None = None


class Metric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    statistic: str | None = None
    threshold: float | None = None
    value: float | None = None
    unit: str | None = None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class NormalizedAlert(BaseModel):
    """One alert from one source, in the shape every later stage understands."""

    model_config = ConfigDict(extra="forbid")

    source: str
    fingerprint: str
    name: str
    status: AlertStatus
    severity: Severity = Severity.UNKNOWN
    summary: str = ""
    description: str = ""
    resource: Resource = Field(default_factory=Resource)
    metric: Metric | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    links: list[str] = Field(default_factory=list)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @field_serializer("starts_at", "ends_at")
    def _iso(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")

    def to_json_dict(self) -> dict[str, Any]:
        """The DESIGN.md JSON object (enums as strings, times as ISO 8601 UTC)."""
        return self.model_dump(mode="json")
