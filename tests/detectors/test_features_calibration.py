from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.calibration import ScoreCalibrator
from detectors.features import FEATURE_NAMES, FeatureState, features_of


def test_features_are_causal_prefix_of_longer_stream() -> None:
    rng = np.random.default_rng(0)
    ts = np.cumsum(rng.choice([300.0, 300.0, 600.0, 0.0, 3600.0], size=500)) + 1.7e9
    vs = rng.normal(10, 2, size=500)
    full = features_of(FeatureState(), ts, vs)
    prefix = features_of(FeatureState(), ts[:321], vs[:321])
    np.testing.assert_array_equal(full[:321], prefix)
    assert full.shape == (500, len(FEATURE_NAMES))
    assert np.isfinite(full).all()


def test_flat_series_then_step_gives_finite_strong_features() -> None:
    ts = 1.7e9 + 300.0 * np.arange(400)
    vs = np.r_[np.full(399, 5.0), 9.0]
    rows = features_of(FeatureState(), ts, vs)
    assert np.isfinite(rows).all()
    assert rows[-2, FEATURE_NAMES.index("z_value_1d")] == 0.0
    assert rows[-1, FEATURE_NAMES.index("z_value_1d")] > 5.0  # signed log of a huge z


def test_calibrator_keeps_sorted_window_and_extrapolates_the_tail() -> None:
    cal = ScoreCalibrator(window=100, tail_share=0.05, smoothing=1)
    rng = np.random.default_rng(3)
    xs = rng.normal(size=400)
    for x in xs:
        cal.push(float(x))
    np.testing.assert_array_equal(cal._sorted[: len(cal)], np.sort(xs[-100:].astype(np.float32)))
    p_mid, p_max, p_far = (cal.tail_probability(v) for v in (0.0, float(xs[-100:].max()), 10.0))
    assert p_mid is not None and p_max is not None and p_far is not None
    assert 0.3 < p_mid < 0.7
    assert p_far < p_max < 0.05


def test_calibrator_needs_history_first() -> None:
    cal = ScoreCalibrator(window=100, tail_share=0.05, smoothing=3)
    assert all(cal.probability(0.5) is None for _ in range(40))


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_calibrator_survives_infinite_scores(value: float) -> None:
    cal = ScoreCalibrator(window=60, tail_share=0.1, smoothing=1)
    for i in range(60):
        cal.push(float(i))
    p = cal.tail_probability(value)
    assert p is not None and 0.0 < p <= 1.0
