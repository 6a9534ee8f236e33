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


def test_malformed_csv_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "backtest",
            str(FIXTURES / "daily_spike.csv"),
            str(FIXTURES / "malformed.csv"),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    assert "malformed.csv:4" in result.output
    assert not (tmp_path / "daily_spike.csv").exists()  # checked before any work


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["backtest", str(tmp_path / "nope.csv"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "nope.csv" in result.output
