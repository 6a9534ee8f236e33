from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from detectors.api import AnomalyDetector, DetectionStatus
from detectors.errors import UnsafeModelPath
from detectors.persistence import ModelStore
from detectors.series import MetricSeries
from detectors.settings import DetectorSettings
from detectors.stream import SeriesDetector
from tests.detectors.conftest import STEP, T0, make_series


def _prefix(series: MetricSeries, n: int) -> MetricSeries:
    return replace(series, timestamps=series.timestamps[:n], values=series.values[:n])


def test_settings_forbid_unknown_keys() -> None:
    with pytest.raises(ValueError, match="extra"):
        DetectorSettings.model_validate({"treshold": 0.9})


def test_missing_metric_is_insufficient_data_never_guessed(
    data_dir: Path, small_settings: DetectorSettings
) -> None:
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    result = det.score(MetricSeries(key="svc/cpu", timestamps=[], values=[]), T0)
    assert result.status is DetectionStatus.INSUFFICIENT_DATA
    assert result.score is None
    assert not result.is_anomalous


def test_too_few_points_is_insufficient_data(data_dir: Path, small_settings: DetectorSettings) -> None:
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    series = make_series(20)
    result = det.score(series, series.timestamps[-1])
    assert result.status is DetectionStatus.INSUFFICIENT_DATA
    assert "more needed" in result.detail


def test_unusable_points_are_skipped_and_counted(data_dir: Path, small_settings: DetectorSettings) -> None:
    series = make_series(300)
    values: list[object] = list(series.values)
    values[100], values[150], values[200] = "x", float("nan"), None
    messy = MetricSeries(key=series.key, timestamps=series.timestamps, values=values)  # type: ignore[arg-type]
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    result = det.score(messy, series.timestamps[-1])
    assert result.status is DetectionStatus.OK
    assert result.skipped == 3
    assert det._states[series.key].points == 297


def test_nothing_usable_is_insufficient_data_with_the_count(
    data_dir: Path, small_settings: DetectorSettings
) -> None:
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    bad = MetricSeries(key="k", timestamps=[T0, T0 + STEP], values=["x", "y"])  # type: ignore[list-item]
    result = det.score(bad, T0 + STEP)
    assert result.status is DetectionStatus.INSUFFICIENT_DATA
    assert "2 skipped" in result.detail


def test_level_shift_is_flagged_and_explained(data_dir: Path, small_settings: DetectorSettings) -> None:
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    series = make_series(400, spike_at=395)
    calm = det.score(_prefix(series, 390), series.timestamps[389])
    assert calm.status is DetectionStatus.OK
    assert calm.score is not None and not calm.is_anomalous
    hit = det.score(series, series.timestamps[-1])
    assert hit.status is DetectionStatus.OK
    assert hit.is_anomalous and hit.score is not None and hit.score >= hit.threshold
    assert hit.explanation.signal is not None
    assert "sigma above" in hit.explanation.text
    assert "(signal: " in hit.explanation.text
    assert len(hit.recent) == small_settings.recent_points
    assert hit.recent[-1].at == series.timestamps[-1]


def test_alert_score_is_the_highest_point_score_in_the_alert_window(
    data_dir: Path, small_settings: DetectorSettings
) -> None:
    """A shift that began 20 minutes before the alarm: its first point carries the alert score,
    although the later points are de-duplicated repeats; the probability (what verification reads)
    is not de-duplicated."""
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    series = make_series(400, spike_at=396)
    result = det.score(series, series.timestamps[-1])
    window = [p for p in result.recent if p.at > series.timestamps[-1] - timedelta(minutes=60)]
    assert result.score == max(p.score for p in window if p.score is not None)
    assert result.score is not None and result.score >= small_settings.threshold
    assert result.recent[-1].score is not None and result.recent[-1].score < result.score  # a repeat
    assert result.probability is not None and result.probability >= result.score


def test_live_scores_equal_a_fresh_stream_of_the_same_points(
    data_dir: Path, small_settings: DetectorSettings
) -> None:
    """Feeding a series in three calls gives the scores one stream of all its points gives."""
    series = make_series(500, spike_at=450, width=5)
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    for n in (200, 351, 500):
        det.score(_prefix(series, n), series.timestamps[n - 1])
    ts = np.array([t.timestamp() for t in series.timestamps])
    stream = SeriesDetector(small_settings).feed(ts, np.array(series.values)).score
    live = [p.score for p in det._states[series.key].recent()]
    expected = [None if np.isnan(s) else float(s) for s in stream[-small_settings.recent_points :]]
    assert live == expected


def test_now_ignores_later_points(data_dir: Path, small_settings: DetectorSettings) -> None:
    series = make_series(400, spike_at=395)
    now = series.timestamps[380]
    a = AnomalyDetector(small_settings, data_dir=data_dir, load=False).score(series, now)
    b = AnomalyDetector(small_settings, data_dir=data_dir, load=False).score(_prefix(series, 381), now)
    assert a.scored_at == now
    assert a.score == b.score


def test_scoring_the_past_leaves_state_alone(data_dir: Path, small_settings: DetectorSettings) -> None:
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    series = make_series(400)
    latest = det.score(series, series.timestamps[-1])
    past = det.score(series, series.timestamps[300])
    assert past.scored_at == series.timestamps[300]
    again = det.score(series, series.timestamps[-1])
    assert again.score == latest.score


def test_score_many_is_deterministic(data_dir: Path, small_settings: DetectorSettings) -> None:
    def run() -> list[float | None]:
        det = AnomalyDetector(small_settings, data_dir=data_dir, load=False)
        many = [make_series(300, key=f"svc/{i}", seed=i) for i in range(5)]
        det.score_many([_prefix(s, 200) for s in many], many[0].timestamps[199])
        return [r.score for r in det.score_many(many, many[0].timestamps[-1])]

    first = run()
    assert all(s is not None for s in first)
    assert first == run()


def test_state_per_series_stays_under_50_kb(data_dir: Path) -> None:
    det = AnomalyDetector(DetectorSettings(), data_dir=data_dir)
    series = make_series(1500)
    det.score(series, series.timestamps[-1])
    assert 40_000 < det.state_bytes(series.key) <= 50_000


def test_save_and_load_round_trip(data_dir: Path, small_settings: DetectorSettings) -> None:
    series = make_series(400)
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    det.score(_prefix(series, 300), series.timestamps[299])
    path = det.save()
    assert path.parent == (data_dir / "models").resolve()
    meta = json.loads(path.with_suffix(".json").read_text())
    assert {"numpy", "feature_schema", "format"} <= meta.keys()
    loaded = AnomalyDetector(small_settings, data_dir=data_dir)
    assert loaded.load_outcome.reason == "loaded"
    assert loaded.score(series, series.timestamps[-1]).score == det.score(series, series.timestamps[-1]).score


def test_incompatible_model_starts_fresh_not_crashed_on(
    data_dir: Path, small_settings: DetectorSettings
) -> None:
    series = make_series(300)
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    det.score(series, series.timestamps[-1])
    meta_path = det.save().with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["numpy"] = "0.0.1"
    meta_path.write_text(json.dumps(meta))
    fresh = AnomalyDetector(small_settings, data_dir=data_dir)
    assert fresh.load_outcome.reason.startswith("incompatible")
    assert len(fresh) == 0
    assert fresh.score(series, series.timestamps[-1]).status is DetectionStatus.OK


def test_corrupt_model_file_starts_fresh(data_dir: Path, small_settings: DetectorSettings) -> None:
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    det.save().write_bytes(b"not a pickle")
    assert AnomalyDetector(small_settings, data_dir=data_dir).load_outcome.reason.startswith("unreadable")


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/../../b"])
def test_model_paths_outside_the_data_dir_are_refused(data_dir: Path, name: str) -> None:
    with pytest.raises(UnsafeModelPath):
        ModelStore(data_dir).path(name)


def test_symlink_out_of_the_models_dir_is_refused(data_dir: Path, tmp_path: Path) -> None:
    (data_dir / "models").mkdir()
    (tmp_path / "evil.pkl").write_bytes(b"x")
    (data_dir / "models" / "detector.pkl").symlink_to(tmp_path / "evil.pkl")
    with pytest.raises(UnsafeModelPath):
        ModelStore(data_dir).path("detector.pkl")


def test_settings_threshold_is_used(data_dir: Path, small_settings: DetectorSettings) -> None:
    det = AnomalyDetector(small_settings.model_copy(update={"threshold": 0.5}), data_dir=data_dir)
    series = make_series(300)
    result = det.score(series, series.timestamps[-1])
    assert result.threshold == 0.5


def test_a_young_series_says_its_score_cannot_pass_the_threshold_yet(data_dir: Path) -> None:
    """With too little history nothing can be rarer than one in the values seen: the explanation says
    so, so that "below the threshold" is not read as "the metric looks normal"."""
    det = AnomalyDetector(DetectorSettings(), data_dir=data_dir)
    series = make_series(200, spike_at=196)
    result = det.score(series, series.timestamps[-1])
    assert result.status is DetectionStatus.OK and not result.is_anomalous
    assert "young series: 200 points of history, scores cannot pass 0.99" in result.explanation.text
    grown = make_series(600, key="grown")
    assert "young series" not in det.score(grown, grown.timestamps[-1]).explanation.text
