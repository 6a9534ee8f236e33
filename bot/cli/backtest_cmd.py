"""`conductor backtest FILE.csv... --out DIR [--plot] [--threshold T] [--seed N]`.

Every file is read and checked before any work starts: a file that cannot be read, or has no row
that can be scored, fails fast (exit 2, naming the file) and no output is half-written. Rows that
cannot be used are skipped (empty score) and counted, with a warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from bot.cli.output import err_console
from detectors.backtest import BacktestSummary, backtest_file
from detectors.errors import MalformedSeriesFile
from detectors.series_csv import read_series
from detectors.settings import DetectorSettings


def _summary_line(summary: BacktestSummary) -> str:
    chart = f", chart {summary.plot}" if summary.plot else ""
    extra = f", {summary.skipped} skipped" if summary.skipped else ""
    if summary.out_of_order:
        extra += f", {summary.out_of_order} out of order"
    return (
        f"{summary.name}: {summary.rows} rows, {summary.scored} scored{extra}, "
        f"{summary.flagged} at or above {summary.threshold:g} -> {summary.output}{chart}"
    )


def _warnings(summary: BacktestSummary) -> list[str]:
    out = []
    if summary.skipped and summary.first_skipped is not None:
        first = summary.first_skipped
        out.append(
            f"{summary.name}: {summary.skipped} rows skipped (empty anomaly_score), "
            f"first at line {first.line}: {first.reason}"
        )
    if summary.out_of_order:
        out.append(
            f"{summary.name}: {summary.out_of_order} rows repeat or go back in time; "
            "each was scored as arriving right after the row before it"
        )
    return out


def run_backtest(
    files: list[Path], out: Path, *, plot: bool, threshold: float | None, seed: int | None, console: Console
) -> list[BacktestSummary]:
    """Backtest the files one by one with a progress bar, then print where each output went."""
    settings = DetectorSettings() if seed is None else DetectorSettings(seed=seed)
    rows = {path: len(read_series(path).values) for path in files}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    summaries = []
    with Progress(*columns, console=console) as progress:
        for path in files:
            task = progress.add_task(path.name, total=rows[path])

            def advance(n: int, task: TaskID = task) -> None:
                progress.advance(task, n)

            summary = backtest_file(
                path, out, settings=settings, plot=plot, threshold=threshold, progress=advance
            )
            progress.update(task, completed=rows[path])
            console.print(_summary_line(summary), highlight=False)
            for warning in _warnings(summary):
                console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
            summaries.append(summary)
    return summaries


def register(app: typer.Typer) -> None:
    @app.command("backtest")
    def backtest(
        files: Annotated[
            list[Path], typer.Argument(metavar="FILE.csv...", help="Series with columns timestamp,value.")
        ],
        out: Annotated[Path, typer.Option("--out", help="Directory for <name>.csv (and <name>.png).")],
        plot: Annotated[bool, typer.Option("--plot", help="Also write a chart per series.")] = False,
        threshold: Annotated[
            float | None,
            typer.Option(
                "--threshold", min=0.0, max=1.0, help="Threshold for flagged points (default: configured)."
            ),
        ] = None,
        seed: Annotated[int | None, typer.Option("--seed", min=0, help="Random seed of the forests.")] = None,
    ) -> None:
        """Stream each series through the detector with no look-ahead and write its anomaly scores."""
        console = err_console  # never wraps off a terminal
        try:
            run_backtest(files, out, plot=plot, threshold=threshold, seed=seed, console=console)
        except MalformedSeriesFile as exc:
            console.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from None
