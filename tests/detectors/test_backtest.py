from __future__ import annotations

import csv
from pathlib import Path

import pytest

from detectors.backtest import backtest_file
from detectors.errors import MalformedSeriesFile
from detectors.series_csv import read_series
from detectors.settings import DetectorSettings
from tests.detectors.conftest import FIXTURES, make_series, write_csv


def _scores(path: Path) -> list[str]:
    with path.open(newline="") as fh:
        return [row["anomaly_score"] for row in csv.DictReader(fh)]


def test_output_format(tmp_path: Path, small_settings: DetectorSettings) -> None:
    src = write_csv(tmp_path / "svc.csv", make_series(400, spike_at=350))
    summary = backtest_file(src, tmp_path / "out", settings=small_settings)
    with summary.output.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == 401
    assert [(r[0], r[1]) for r in rows[1:]] == read_series(src).cells
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows[1:])
    assert summary.flagged >= 1  # the level shift at row 350
    assert summary.skipped == 0


def test_no_look_ahead_truncated_file_scores_are_a_prefix(
    tmp_path: Path, small_settings: DetectorSettings
) -> None:
    series = make_series(400, spike_at=330)
    full = write_csv(tmp_path / "full.csv", series)
    lines = full.read_text().splitlines()
    for cut in (170, 333):  # mid refit period, and just after the shift began
        part = tmp_path / f"part{cut}.csv"
        part.write_text("\n".join(lines[: cut + 1]) + "\n")
        backtest_file(part, tmp_path / "out", settings=small_settings)
    backtest_file(full, tmp_path / "out", settings=small_settings)
    whole = _scores(tmp_path / "out" / "full.csv")
    for cut in (170, 333):
        assert _scores(tmp_path / "out" / f"part{cut}.csv") == whole[:cut]


def test_same_seed_same_scores_other_seed_differs(tmp_path: Path, small_settings: DetectorSettings) -> None:
    src = write_csv(tmp_path / "s.csv", make_series(300, spike_at=260))
    a = _scores(backtest_file(src, tmp_path / "a", settings=small_settings).output)
    b = _scores(backtest_file(src, tmp_path / "b", settings=small_settings).output)
    c = _scores(
        backtest_file(src, tmp_path / "c", settings=small_settings.model_copy(update={"seed": 5})).output
    )
    assert a == b
    assert a != c


def test_plot_is_written(tmp_path: Path, small_settings: DetectorSettings) -> None:
    src = write_csv(tmp_path / "p.csv", make_series(200, spike_at=180))
    summary = backtest_file(src, tmp_path, settings=small_settings, plot=True, threshold=0.99)
    assert summary.plot is not None
    assert summary.plot.read_bytes()[:4] == b"\x89PNG"


def test_messy_rows_are_skipped_in_place_and_the_rest_is_scored(
    tmp_path: Path, small_settings: DetectorSettings
) -> None:
    """Empty, NaN, non-numeric values, bad timestamps, short rows and a row of empty cells get an empty
    score on their own row; a repeated or backward timestamp is scored in file order. Every other row
    scores as it would in the clean file with those rows removed."""
    clean = make_series(300, spike_at=260)
    lines = write_csv(tmp_path / "clean.csv", clean).read_text().splitlines()
    messy = list(lines)
    bad = {
        50: "2026-01-05 04:10:00,",
        80: "2026-01-05 06:40:00,nan",
        120: "2026-01-05 10:00:00,12 percent",
        150: "not a time,5",
        200: "2026-01-05 16:40:00",
        240: ",",
    }
    for at, text in sorted(bad.items()):  # each lands on line index `at` of the final file
        messy.insert(at, text)
    (tmp_path / "messy.csv").write_text("\n".join(messy) + "\n")
    summary = backtest_file(tmp_path / "messy.csv", tmp_path / "out", settings=small_settings)
    assert summary.rows == 306
    assert summary.skipped == 6
    assert summary.first_skipped is not None and summary.first_skipped.line == 51
    got = _scores(tmp_path / "out" / "messy.csv")
    assert [got[at - 1] for at in sorted(bad)] == [""] * 6
    reference = _scores(
        backtest_file(tmp_path / "clean.csv", tmp_path / "ref", settings=small_settings).output
    )
    assert [s for s in got if s != ""] == reference


def test_repeated_and_backward_timestamps_are_scored_not_refused(
    tmp_path: Path, small_settings: DetectorSettings
) -> None:
    lines = write_csv(tmp_path / "s.csv", make_series(300)).read_text().splitlines()
    lines.insert(101, lines[100])  # a repeated row
    lines.insert(201, lines[150])  # a row from the past
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    summary = backtest_file(tmp_path / "s.csv", tmp_path / "out", settings=small_settings)
    assert (summary.rows, summary.skipped, summary.out_of_order) == (302, 0, 2)
    assert all(s != "" for s in _scores(summary.output))


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        pytest.param("", 1, "empty file", id="empty"),
        pytest.param("time,val\n1,2\n", 1, "lacks", id="bad-header"),
        pytest.param("timestamp,value\nyesterday,1\n", 2, "no row can be scored", id="nothing-usable"),
        pytest.param("timestamp,value\n2026-01-01 00:00:00,nan\n", 2, "not finite", id="only-nan"),
        pytest.param("timestamp,value\n", None, "no data rows", id="no-rows"),
        pytest.param("timestamp,value\n,\n , \n", 2, "empty row", id="only-empty-rows"),
    ],
)
def test_unusable_files_name_file_and_line(tmp_path: Path, text: str, line: int | None, reason: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(MalformedSeriesFile) as info:
        read_series(path)
    assert info.value.line == line
    assert reason in str(info.value)
    assert str(path) in str(info.value)


def test_fixture_with_a_bad_value_is_read_and_a_missing_file_refused() -> None:
    series = read_series(FIXTURES / "malformed.csv")
    assert [(s.line, s.reason) for s in series.skipped] == [(4, "bad value 'oops'")]
    with pytest.raises(MalformedSeriesFile, match="cannot open"):
        read_series(FIXTURES / "does-not-exist.csv")
