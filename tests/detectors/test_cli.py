from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from bot.cli import backtest_cmd
from tests.detectors.conftest import FIXTURES


def _app() -> typer.Typer:
    app = typer.Typer()
    backtest_cmd.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer from flattening `backtest`
        """Nothing."""

    return app


def test_backtest_writes_csv_and_plot(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(),
        ["backtest", str(FIXTURES / "daily_spike.csv"), "--out", str(tmp_path), "--plot", "--seed", "1"],
    )
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "daily_spike.csv").read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score"
    assert len(lines) == 701
    assert (tmp_path / "daily_spike.png").exists()


def test_skipped_rows_are_counted_with_a_warning_and_the_file_is_scored(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["backtest", str(FIXTURES / "malformed.csv"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "4 rows, 3 scored, 1 skipped" in result.output
    assert (
        "warning: malformed.csv: 1 rows skipped (empty anomaly_score), first at line 4: bad value 'oops'"
        in (" ".join(result.output.split()))
    )
    lines = (tmp_path / "malformed.csv").read_text().splitlines()
    assert lines[3] == "2026-01-05 00:10:00,oops,"


def test_a_file_with_nothing_to_score_exits_2_before_any_output(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "backtest",
            str(FIXTURES / "daily_spike.csv"),
            str(FIXTURES / "unusable.csv"),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    assert "unusable.csv:2: no row can be scored" in " ".join(result.output.split())
    assert not (tmp_path / "daily_spike.csv").exists()  # checked before any work


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["backtest", str(tmp_path / "nope.csv"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "nope.csv" in result.output


def test_backtest_lines_do_not_wrap_off_a_terminal(tmp_path: Path) -> None:
    """Into a pipe, the summary and warnings stay one line each, however long (scripts grep them)."""
    import subprocess
    import sys

    out = tmp_path / ("a-long-directory-name-" * 4)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "backtest", str(FIXTURES / "malformed.csv"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = [line for line in done.stderr.splitlines() if line.startswith("malformed.csv: ")]
    assert summary == [summary[0]] and summary[0].endswith(str(out / "malformed.csv")), done.stderr
