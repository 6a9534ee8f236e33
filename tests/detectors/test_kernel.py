"""The compiled per-point pipeline: causality, robustness, the forest, calibration and the alert stream."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors import calibration, forest, layout
from detectors import kernel as K
from detectors.settings import DetectorSettings
from detectors.signals import F_REC, FEATURE_NAMES
from detectors.stream import SeriesDetector, kernel_params


def _feed(settings: DetectorSettings, ts: np.ndarray, vs: np.ndarray) -> tuple[SeriesDetector, K.Scores]:
    det = SeriesDetector(settings)
    return det, det.feed(ts, vs)


def _spiky(n: int, seed: int = 1, spike: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = 1.7e9 + 300.0 * np.arange(n)
    vs = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 1.0, n)
    if spike is not None:
        vs[spike] += 30.0
    return ts, vs


def test_scores_are_causal_a_prefix_scores_the_same(small_settings: DetectorSettings) -> None:
    rng = np.random.default_rng(0)
    ts = np.cumsum(rng.choice([300.0, 300.0, 600.0, 0.0, 3600.0], size=600)) + 1.7e9
    vs = rng.normal(10, 2, size=600)
    _, full = _feed(small_settings, ts, vs)
    _, prefix = _feed(small_settings, ts[:321], vs[:321])
    np.testing.assert_array_equal(full.score[:321], prefix.score)
    # scored once past min_points and once the signals have history (after the settling points)
    first = max(small_settings.min_points, layout.SETTLE_POINTS + layout.MIN_CALIBRATION)
    assert np.isnan(full.score[: small_settings.min_points - 1]).all()
    assert np.isfinite(full.score[first:]).all()


def test_feeding_in_pieces_equals_feeding_at_once(small_settings: DetectorSettings) -> None:
    ts, vs = _spiky(700, spike=650)
    _, whole = _feed(small_settings, ts, vs)
    det = SeriesDetector(small_settings)
    parts = [det.feed(ts[a:b], vs[a:b]).score for a, b in ((0, 1), (1, 333), (333, 334), (334, 700))]
    np.testing.assert_array_equal(np.concatenate(parts), whole.score)


def test_a_spike_ranks_far_above_noise_and_nothing_is_flagged_after_warm_up() -> None:
    """The issue's case: 2,000 rows of daily cycle and noise with one clear spike at row 1500. The
    spike must stand out near 1 (no tie at 1.0 with a noise point) and no noise point may be flagged."""
    settings = DetectorSettings()
    for seed in (1, 2, 3):
        ts, vs = _spiky(2000, seed=seed, spike=1500)
        _, out = _feed(settings, ts, vs)
        tail = 1.0 - np.nan_to_num(out.score, nan=0.0)  # 1 - score, resolvable near 0
        order = np.argsort(tail)
        assert order[0] == 1500
        assert tail[1500] < 1e-9 < 1e-3 < tail[order[1]]
        flagged = np.flatnonzero(out.score >= settings.threshold)
        assert flagged.tolist() == [1500]
        assert out.score[1500] < 1.0


def test_flat_series_then_step_is_finite_and_flagged() -> None:
    settings = DetectorSettings()
    ts = 1.7e9 + 300.0 * np.arange(600)
    vs = np.r_[np.full(599, 5.0), 9.0]
    det, out = _feed(settings, ts, vs)
    # scored from min_points on, once the signals have history after the settling hours (4 h here)
    first = max(settings.min_points, int(layout.SETTLE_SECONDS / 300) + layout.MIN_CALIBRATION + 1)
    assert np.isnan(out.score[: settings.min_points - 1]).all()
    assert np.isfinite(out.score[first:]).all()
    assert (out.score[first:599] < settings.threshold).all()
    assert out.score[599] >= settings.threshold
    assert det.explanation(top=3).signal is not None


def test_record_is_zero_inside_the_7_day_range_and_signed_beyond_it() -> None:
    settings = DetectorSettings()
    ts = 1.7e9 + 300.0 * np.arange(600)
    vs = np.r_[np.tile([1.0, 3.0], 299), 5.0, -1.0]
    det = SeriesDetector(settings)
    det.feed(ts[:598], vs[:598])
    assert det.state.last_row[F_REC] == 0.0
    det.feed(ts[598:599], vs[598:599])
    assert FEATURE_NAMES[F_REC] == "record_7d"
    assert det.state.last_row[F_REC] == pytest.approx(math.log1p(1.0))  # one range (1..3) above
    det.feed(ts[599:], vs[599:])
    assert det.state.last_row[F_REC] == pytest.approx(-math.log1p(2.0 / 4.0))  # half the range below


def test_record_forgets_extremes_older_than_7_days() -> None:
    hour = 3600.0
    ts = 1.7e9 + np.r_[0.0, hour * np.arange(1, 200)]
    vs = np.r_[100.0, np.tile([1.0, 2.0], 99), 3.0]  # the 100 is 199 hours (> 7 days) old at the end
    det = SeriesDetector(DetectorSettings())
    det.feed(ts[:101], vs[:101])
    assert det.state.last_row[F_REC] == 0.0  # still within a week of the 100
    det.feed(ts[101:], vs[101:])
    assert det.state.last_row[F_REC] > 0.0


def test_forest_isolates_an_outlier_sooner_than_an_inlier() -> None:
    rng = np.random.default_rng(0)
    reservoir = rng.normal(size=(256, 5)).astype(np.float32)
    p = kernel_params(DetectorSettings())
    state = K.KernelState.new(p)
    forest.fit_forest(reservoir, 256, state.tree_feat, state.tree_thr, state.iv, p.tree_samples)
    inlier = forest.forest_score(np.zeros(5, dtype=np.float32), state.tree_feat, state.tree_thr, 64.0)
    outlier = forest.forest_score(np.full(5, 4.0, dtype=np.float32), state.tree_feat, state.tree_thr, 64.0)
    assert 0.3 < inlier < 0.5 < 0.6 < outlier < 1.0


def test_tail_probability_is_a_share_inside_the_window_and_extrapolated_beyond() -> None:
    values = np.sort(np.random.default_rng(3).normal(size=400).astype(np.float32))
    mid = calibration.tail_probability(values, 400, 0.05, 0.0, layout.UNIT)
    top = calibration.tail_probability(values, 400, 0.05, float(values[-1]), layout.UNIT)
    far = calibration.tail_probability(values, 400, 0.05, 10.0, layout.UNIT)
    assert 0.4 < mid < 0.6
    assert far < top <= 2 / 401
    assert far >= layout.P_FLOOR


def test_alert_stream_flags_a_level_shift_once(small_settings: DetectorSettings) -> None:
    settings = small_settings.model_copy(update={"threshold": 0.99})
    ts, vs = _spiky(600)
    vs[500:] += 60.0
    _, out = _feed(settings, ts, vs)
    flagged = np.flatnonzero(out.score >= 0.99)
    raw = np.flatnonzero(out.probability >= 0.99)
    assert 500 in flagged
    assert len(flagged) < len(raw)
    repeat = np.abs(out.score - out.probability) > 1e-12
    # a repeat is kept as a float32 tail probability: exact to ~6e-8 of the score
    np.testing.assert_allclose(out.score[repeat], out.probability[repeat] * settings.repeat_factor, atol=1e-7)
