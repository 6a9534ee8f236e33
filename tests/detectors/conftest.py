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
        n_estimators=20,
        max_samples=64,
        warmup_points=60,
        refit_interval=50,
        history_window=300,
        shared_history_rows=2000,
        shared_refit_rows=200,
        calibration_window=200,
        min_points=60,
        recent_points=50,
    )


def make_series(n: int, *, key: str = "svc/cpu", spike_at: int | None = None, seed: int = 1) -> MetricSeries:
    rng = np.random.default_rng(seed)
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 1.0, n)
    if spike_at is not None:
        values[spike_at:] += 60.0
    stamps = [T0 + i * STEP for i in range(n)]
    return MetricSeries(key=key, timestamps=stamps, values=[float(v) for v in values])


def write_csv(path: Path, series: MetricSeries) -> Path:
    lines = ["timestamp,value"]
    lines += [f"{t:%Y-%m-%d %H:%M:%S},{v!r}" for t, v in zip(series.timestamps, series.values, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path
