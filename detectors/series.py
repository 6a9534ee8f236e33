"""The series shape every metric source returns and the detector consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """Timestamped values of one metric on one resource, oldest first.

    `key` identifies the series across calls (e.g. `aws/AWS/ECS/CPUUtilization/ClusterName=a,ServiceName=b`);
    timestamps are timezone-aware UTC; steps may be irregular and gaps are allowed.
    """

    key: str
    timestamps: list[datetime]
    values: list[float]
    unit: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.timestamps) != len(self.values):
            raise ValueError(
                f"series {self.key}: {len(self.timestamps)} timestamps but {len(self.values)} values"
            )

    def __len__(self) -> int:
        return len(self.values)
