"""The record signal (novelty against the last 7 days) and the alert de-duplication of the stream."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from detectors.api import AnomalyDetector
from detectors.backtest import backtest_file
from detectors.features import FEATURE_NAMES, RECORD_FEATURE, FeatureState, features_of
from detectors.settings import DetectorSettings
from tests.detectors.conftest import make_series, write_csv


def _scores(path: Path) -> list[float]:
    with path.open(newline="") as fh:
        return [float(row["anomaly_score"]) for row in csv.DictReader(fh)]


def test_record_is_zero_inside_the_7_day_range_and_signed_beyond_it() -> None:
    ts = 1.7e9 + 300.0 * np.arange(600)
    vs = np.r_[np.tile([1.0, 3.0], 299), 5.0, -1.0]
    rows = features_of(FeatureState(), ts, vs)
    assert FEATURE_NAMES[RECORD_FEATURE] == "record_7d"
    assert (rows[2:598, RECORD_FEATURE] == 0.0).all()
    assert rows[598, RECORD_FEATURE] == np.log1p(1.0)  # one full range (1..3) above the high
    assert rows[599, RECORD_FEATURE] == -np.log1p(2.0 / 4.0)  # half the range (1..5) below the low


def test_record_forgets_extremes_older_than_7_days() -> None:
    hour = 3600.0
    ts = 1.7e9 + np.r_[0.0, hour * np.arange(1, 200)]
    vs = np.r_[100.0, np.tile([1.0, 2.0], 99), 3.0]  # the 100 is 199 hours (> 7 days) old at the end
    rows = features_of(FeatureState(), ts, vs)
    assert rows[-1, RECORD_FEATURE] > 0.0
    assert rows[100, RECORD_FEATURE] == 0.0  # still within a week of the 100


def test_alert_stream_flags_a_level_shift_once_and_stays_a_probability(
    tmp_path: Path, small_settings: DetectorSettings
) -> None:
    settings = small_settings.model_copy(update={"threshold": 0.99, "refractory_points": 100})
    src = write_csv(tmp_path / "shift.csv", make_series(400, spike_at=300))
    scores = _scores(backtest_file(src, tmp_path / "dedup", settings=settings).output)
    raw = _scores(
        backtest_file(
            src, tmp_path / "raw", settings=settings.model_copy(update={"refractory_points": 0})
        ).output
    )
    assert all(0.0 <= s <= 1.0 for s in scores)
    flagged_raw = [i for i, s in enumerate(raw) if s >= 0.99]
    flagged = [i for i, s in enumerate(scores) if s >= 0.99]
    assert flagged and len(flagged) < len(flagged_raw)
    onset = min(i for i in flagged_raw if i >= 300)
    assert onset in flagged  # the first alert of the shift is kept, not delayed
    # Every point is either its probability (a new high of the last 100) or a damped repeat.
    for i, (s, r) in enumerate(zip(scores, raw, strict=True)):
        kept = abs(s - r) < 1e-9
        assert kept or abs(s - r * settings.repeat_factor) < 1e-9
        if i >= 100 and kept and r > 0:
            assert r > max(raw[i - 100 : i])


def test_live_score_is_the_probability_not_the_deduplicated_alert(
    data_dir: Path, small_settings: DetectorSettings
) -> None:
    """A sustained anomaly stays anomalous for callers asking about the latest point."""
    det = AnomalyDetector(small_settings.model_copy(update={"threshold": 0.99}), data_dir=data_dir)
    series = make_series(400, spike_at=395)
    det.score(series, series.timestamps[380])
    hit = det.score(series, series.timestamps[-1])
    assert hit.is_anomalous
    tail = det.score_series(series)[-1]  # the per-point probabilities are not de-duplicated either
    assert tail is not None and tail >= 0.99
