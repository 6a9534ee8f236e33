"""Shared helpers for sweep tests: a runtime with sweeps configured, metric writers for moto."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from bot.config.loader import parse_settings
from bot.runtime import Runtime, build_runtime
from bot.sweeps.runner import SweepContext
from bot.sweeps.sources import SweepSources

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)


def make_runtime(data_dir: Path, sweeps: list[dict[str, Any]], **overrides: Any) -> Runtime:
    raw: dict[str, Any] = {
        "data_dir": str(data_dir),
        "workers": {"threads": 1, "poll_interval_seconds": 0.05},
        "cloudwatch": {"selection": "list_metrics", "max_attempts": 1},  # moto has no SEARCH
        "sweeps": sweeps,
    }
    raw.update(overrides)
    return build_runtime(parse_settings(raw, {}))


def context_for(runtime: Runtime, **sources: Any) -> SweepContext:
    return SweepContext(runtime.settings, runtime.store, SweepSources(runtime.settings, **sources))


def cpu_values(
    n: int, *, seed: int, base: float = 40.0, spike: int = 0, spike_to: float = 95.0, amplitude: float = 8.0
) -> list[float]:
    """A daily (288-point) sine around `base` with noise; the last `spike` points jump to ~`spike_to`."""
    rng = np.random.default_rng(seed)
    values = base + amplitude * np.sin(2 * math.pi * np.arange(n) / 288) + rng.normal(0, 1.5, n)
    if spike:
        values[-spike:] = spike_to + rng.normal(0, 1.0, spike)
    return [round(float(v), 3) for v in values]


def stamps(n: int, *, end: datetime = NOW, step: timedelta = STEP) -> list[datetime]:
    """n timestamps, the last one step before `end` (CloudWatch stamps a period at its start)."""
    return [end - step * (n - i) for i in range(n)]


def put_series(
    namespace: str, metric: str, dims: dict[str, str], points: list[tuple[datetime, float]]
) -> None:
    client = boto3.client("cloudwatch")
    datums: list[Any] = [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())],
            "Timestamp": t,
            "Value": v,
        }
        for t, v in points
    ]
    for offset in range(0, len(datums), 1000):  # PutMetricData takes at most 1000 datums
        client.put_metric_data(Namespace=namespace, MetricData=datums[offset : offset + 1000])


@pytest.fixture
def runtimes() -> Iterator[list[Runtime]]:
    """Runtimes a test builds are disposed of afterwards."""
    made: list[Runtime] = []
    yield made
    for runtime in made:
        runtime.store.dispose()
