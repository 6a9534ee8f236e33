from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from detectors.api import AnomalyDetector, DetectionStatus
from detectors.persistence import ModelStore, UnsafeModelPath
from detectors.series import MetricSeries
from detectors.settings import DetectorSettings
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


def test_bad_values_give_error_not_exception(data_dir: Path, small_settings: DetectorSettings) -> None:
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    bad = MetricSeries(key="k", timestamps=[T0, T0 + STEP], values=[1.0, "x"])  # type: ignore[list-item]
    result = det.score(bad, T0 + STEP)
    assert result.status is DetectionStatus.ERROR
    assert "unusable" in result.detail


def test_level_shift_is_flagged_and_explained(data_dir: Path, small_settings: DetectorSettings) -> None:
    det = AnomalyDetector(small_settings.model_copy(update={"threshold": 0.99}), data_dir=data_dir)
    series = make_series(400, spike_at=395)
    calm = det.score(_prefix(series, 390), series.timestamps[389])
    assert calm.status is DetectionStatus.OK
    assert calm.score is not None and not calm.is_anomalous
    hit = det.score(series, series.timestamps[-1])
    assert hit.status is DetectionStatus.OK
    assert hit.is_anomalous and hit.score is not None and hit.score >= hit.threshold
    assert hit.explanation.reasons
    assert "sigma above" in hit.explanation.text
    assert len(hit.recent) == small_settings.recent_points
    assert hit.recent[-1] == (series.timestamps[-1], hit.score)


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


def test_score_many_batches_and_is_deterministic(data_dir: Path, small_settings: DetectorSettings) -> None:
    def run() -> list[float | None]:
        det = AnomalyDetector(small_settings, data_dir=data_dir, load=False)
        many = [make_series(300, key=f"svc/{i}", seed=i) for i in range(5)]
        det.score_many([_prefix(s, 200) for s in many], many[0].timestamps[199])
        return [r.score for r in det.score_many(many, many[0].timestamps[-1])]

    first = run()
    assert all(s is not None for s in first)
    assert first == run()


def test_score_series_matches_backtest_semantics(data_dir: Path, small_settings: DetectorSettings) -> None:
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    series = make_series(200)
    scores = det.score_series(series)
    assert len(scores) == 200
    assert scores[: small_settings.min_points - 1] == [None] * (small_settings.min_points - 1)
    assert det.score_series(_prefix(series, 150)) == scores[:150]
    assert len(det) == 0  # no stored state


def test_state_per_series_stays_under_50_kb(data_dir: Path) -> None:
    det = AnomalyDetector(DetectorSettings(), data_dir=data_dir)
    series = make_series(1500)
    det.score(series, series.timestamps[-1])
    assert 0 < det.state_bytes(series.key) <= 50_000


def test_save_and_load_round_trip(data_dir: Path, small_settings: DetectorSettings) -> None:
    series = make_series(400)
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    det.score(_prefix(series, 300), series.timestamps[299])
    path = det.save()
    assert path.parent == (data_dir / "models").resolve()
    meta = json.loads(path.with_suffix(".json").read_text())
    assert {"sklearn", "numpy", "feature_schema", "format"} <= meta.keys()
    loaded = AnomalyDetector(small_settings, data_dir=data_dir)
    assert loaded.load_outcome.reason == "loaded"
    assert loaded.score(series, series.timestamps[-1]).score == det.score(series, series.timestamps[-1]).score


def test_incompatible_model_is_retrained_not_crashed_on(
    data_dir: Path, small_settings: DetectorSettings
) -> None:
    series = make_series(300)
    det = AnomalyDetector(small_settings, data_dir=data_dir)
    det.score(series, series.timestamps[-1])
    meta_path = det.save().with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["sklearn"] = "0.0.1"
    meta_path.write_text(json.dumps(meta))
    fresh = AnomalyDetector(small_settings, data_dir=data_dir)
    assert fresh.load_outcome.reason.startswith("incompatible")
    assert len(fresh) == 0
    assert fresh.score(series, series.timestamps[-1]).status is DetectionStatus.OK


def test_corrupt_model_file_is_retrained(data_dir: Path, small_settings: DetectorSettings) -> None:
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
    result = det.score(series, series.timestamps[-1] + timedelta(hours=1))
    assert result.threshold == 0.5
