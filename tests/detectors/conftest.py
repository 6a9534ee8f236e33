"""Small, fast detector settings and synthetic series for the detector tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from detectors.series import MetricSeries
from detectors.settings import DetectorSettings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "series"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
STEP = timedelta(minutes=5)


@pytest.fixture
def small_settings() -> DetectorSettings:
    return DetectorSettings(
        n_trees=16,
        tree_samples=32,
        warmup_points=60,
        refit_interval_minutes=250.0,
        calibration_window=200,
        calibration_horizon_minutes=1000.0,
        min_points=60,
        recent_points=50,
        refractory_minutes=500.0,
    )


def make_series(
    n: int, *, key: str = "svc/cpu", spike_at: int | None = None, seed: int = 1, width: int | None = None
) -> MetricSeries:
    """A daily cycle with noise; from `spike_at` on (for `width` points, or to the end) 60 higher."""
    rng = np.random.default_rng(seed)
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 1.0, n)
    if spike_at is not None:
        values[spike_at : None if width is None else spike_at + width] += 60.0
    stamps = [T0 + i * STEP for i in range(n)]
    return MetricSeries(key=key, timestamps=stamps, values=[float(v) for v in values])


def write_csv(path: Path, series: MetricSeries) -> Path:
    lines = ["timestamp,value"]
    lines += [f"{t:%Y-%m-%d %H:%M:%S},{v!r}" for t, v in zip(series.timestamps, series.values, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path
