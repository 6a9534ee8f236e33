"""Durations are minutes, turned into points per series with its own step: the same defaults mean the
same time on 1-minute, 5-minute and hourly data."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.layout import STEP
from detectors.settings import DetectorSettings
from detectors.stream import SeriesDetector

T0 = 1.7e9


def _daily(n: int, step: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = T0 + step * np.arange(n)
    vs = 50 + 10 * np.sin(2 * np.pi * ts / 86400.0) + rng.normal(0, 1.0, n)
    return ts, vs


def test_the_step_is_the_median_time_step_despite_gaps_repeats_and_jitter() -> None:
    rng = np.random.default_rng(0)
    steps = 3600.0 + rng.uniform(-300, 300, 400)
    steps[50] = 86400.0  # a day missing
    steps[[60, 61, 62]] = 0.0  # repeated timestamps
    steps[100] = -7200.0  # one that goes back
    ts = T0 + np.cumsum(steps)
    det = SeriesDetector(DetectorSettings())
    det.feed(ts, rng.normal(10, 1, 400))
    assert abs(float(det.state.sc[STEP]) - 3600.0) < 200.0


def _two_spikes(step: float, apart_hours: float, settings: DetectorSettings) -> tuple[float, float, float]:
    """Score and probability of a second, smaller spike `apart_hours` after a first; the first's score."""
    n = int(30 * 86400 / step)
    ts, vs = _daily(n, step)
    first = int(20 * 86400 / step)
    second = first + int(apart_hours * 3600 / step)
    vs[first] += 40.0
    vs[second] += 30.0
    out = SeriesDetector(settings).feed(ts, vs)
    return float(out.score[second]), float(out.probability[second]), float(out.score[first])


@pytest.mark.parametrize("step", [300.0, 3600.0])
def test_a_lesser_spike_within_the_refractory_time_is_a_repeat_and_one_after_it_is_not(step: float) -> None:
    settings = DetectorSettings(refractory_minutes=1440.0)
    score, probability, first = _two_spikes(step, 6.0, settings)
    assert first >= settings.threshold
    assert score < probability  # a repeat of the first spike's alert: it scores a share of its probability
    score, probability, _ = _two_spikes(step, 48.0, settings)
    assert score == probability  # two days later (48 hourly points, far fewer than 288): a new alert


def test_smoothing_is_a_duration_not_a_point_count() -> None:
    """An hourly series with 30 minutes of smoothing smooths nothing: its spike scores as without any."""
    ts, vs = _daily(24 * 40, 3600.0)
    vs[24 * 30] += 30.0
    smoothed = SeriesDetector(DetectorSettings(smoothing_minutes=30.0)).feed(ts, vs)
    raw = SeriesDetector(DetectorSettings(smoothing_minutes=0.0)).feed(ts, vs)
    np.testing.assert_array_equal(smoothed.score, raw.score)
    five_min = SeriesDetector(DetectorSettings(smoothing_minutes=30.0)).feed(*_daily(2000, 300.0))
    unsmoothed = SeriesDetector(DetectorSettings(smoothing_minutes=0.0)).feed(*_daily(2000, 300.0))
    assert not np.array_equal(np.nan_to_num(five_min.score), np.nan_to_num(unsmoothed.score))
