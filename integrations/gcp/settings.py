"""`[gcp]` settings, importable without the Google client libraries (the CLI starts fast)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CloudMonitoringSettings(BaseModel):
    """`[gcp.monitoring]`: credentials come from Application Default Credentials, never from here."""

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    page_size: int | None = Field(default=None, ge=1)  # series per page; None: the API's default
