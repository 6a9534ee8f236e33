"""The alert de-duplication of the stream, as the backtest writes it."""

from __future__ import annotations

import csv
from pathlib import Path

from detectors.backtest import backtest_file
from detectors.settings import DetectorSettings
from tests.detectors.conftest import make_series, write_csv


def _scores(path: Path) -> list[float]:
    with path.open(newline="") as fh:
        return [float(row["anomaly_score"]) for row in csv.DictReader(fh)]


def test_backtest_writes_the_deduplicated_stream(tmp_path: Path, small_settings: DetectorSettings) -> None:
    settings = small_settings.model_copy(update={"threshold": 0.99, "refractory_minutes": 500.0})
    src = write_csv(tmp_path / "shift.csv", make_series(400, spike_at=330))
    scores = _scores(backtest_file(src, tmp_path / "dedup", settings=settings).output)
    raw = _scores(
        backtest_file(
            src, tmp_path / "raw", settings=settings.model_copy(update={"refractory_minutes": 0.0})
        ).output
    )
    assert all(0.0 <= s <= 1.0 for s in scores)
    flagged_raw = [i for i, s in enumerate(raw) if s >= 0.99]
    flagged = [i for i, s in enumerate(scores) if s >= 0.99]
    assert flagged and len(flagged) < len(flagged_raw)
    onset = min(i for i in flagged_raw if i >= 330)
    assert onset in flagged  # the first alert of the shift is kept, not delayed
    for i, (s, r) in enumerate(zip(scores, raw, strict=True)):  # each point: its probability or a repeat
        kept = abs(s - r) < 1e-9
        assert kept or abs(s - r * settings.repeat_factor) < 1e-6
        if i >= 100 and kept and r > 0:
            assert r > max(raw[i - 100 : i])
