"""The derived development sets keep their labels on the rows they describe, every set is a NAB data
directory the scorer reads, and the backtest accepts every derived file as it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from benchmarks.derived_sets import SETS, build
from benchmarks.nab_sets import DevSets, folds, load_scorer
from detectors.series_csv import read_series
from detectors.settings import DetectorSettings

T0 = datetime(2014, 2, 14, 14, 30)


def _nab_dir(root: Path) -> Path:
    """A tiny NAB-shaped directory: one artificial and two AWS-named series, 5-minute steps, a spike
    inside each labelled window."""
    rng = np.random.default_rng(0)
    labels = {}
    for rel in ("artificialWithAnomaly/a.csv", "realAWSCloudwatch/b.csv", "realAWSCloudwatch/c.csv"):
        n = 1200
        stamps = [T0 + timedelta(minutes=5 * i) for i in range(n)]
        values = 20 + 5 * np.sin(np.arange(n) / 288 * 2 * np.pi) + rng.normal(0, 0.5, n)
        values[900] += 30
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [f"{t:%Y-%m-%d %H:%M:%S},{v:.3f}" for t, v in zip(stamps, values, strict=True)]
        path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
        labels[rel] = [[f"{stamps[880]:%Y-%m-%d %H:%M:%S}", f"{stamps[940]:%Y-%m-%d %H:%M:%S}"]]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _nab_dir(tmp_path_factory.mktemp("nab"))


@pytest.fixture(scope="module")
def sets(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(data, tmp_path_factory.mktemp("sets"))


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_every_set_keeps_its_windows_on_its_own_rows(sets: dict[str, Path]) -> None:
    scorer = load_scorer()
    assert set(sets) == set(SETS)
    for name, d in sets.items():
        labels = json.loads((d / "labels" / "combined_windows.json").read_text())
        series = scorer.load_series(str(d))  # raises if a window end is not a row of its file
        assert len(series) == 3, name
        for rel, windows in labels.items():
            parsed = read_series(d / rel)
            ((start, end),) = windows
            spike = parsed.values[np.nanargmax(np.where(parsed.usable, parsed.values, -np.inf))]
            inside = (parsed.timestamps >= _stamp(start)) & (parsed.timestamps <= _stamp(end))
            assert spike in parsed.values[inside], (name, rel)  # the labelled spike is still labelled


def test_the_sets_differ_the_way_their_names_say(sets: dict[str, Path]) -> None:
    rel = "realAWSCloudwatch/b.csv"
    original, hourly, half_hourly = (read_series(sets[n] / rel) for n in ("original", "60min", "30min"))
    assert np.median(np.diff(hourly.timestamps)) == 3600.0
    assert np.median(np.diff(half_hourly.timestamps)) == 1800.0
    irregular = read_series(sets["irregular"] / rel)
    assert irregular.skipped and irregular.out_of_order > 0  # unusable cells, repeats, rows back in time
    assert len(set(np.diff(irregular.timestamps[irregular.usable]).tolist())) > 50  # jitter
    counts = read_series(sets["counts"] / rel)
    assert np.array_equal(counts.values, np.round(counts.values)) and counts.values.min() == 0
    scaled = read_series(sets["scaled"] / rel)
    assert np.allclose(np.diff(scaled.values), np.diff(original.values) * 1e5)


def test_the_sets_are_scored_through_the_backtest_path_and_the_nab_scorer(data: Path, tmp_path: Path) -> None:
    dev = DevSets(data, tmp_path / "work")
    fast = DetectorSettings(n_trees=8, tree_samples=32, warmup_points=60, min_points=60)
    scores = dev.score(fast)
    assert len(scores) == len(SETS) * 3
    report = dev.evaluate(scores, set(dev.rels), ("original",))
    assert report["standard"] > 50  # one clear spike in each window: found, early
    tune, test = folds(dev.rels)["B (art+even -> odd)"]
    assert test == {"realAWSCloudwatch/c.csv"} and "realAWSCloudwatch/b.csv" in tune
