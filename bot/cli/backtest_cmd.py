"""`conductor backtest FILE.csv... --out DIR [--plot] [--threshold T] [--seed N]`.

Every file is read and checked before any work starts, so a malformed one fails fast (exit 2,
naming the file and line) and no output is half-written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from detectors.backtest import MalformedSeriesFile, backtest_file, read_series
from detectors.settings import DetectorSettings


def run_backtest(
    files: list[Path], out: Path, *, plot: bool, threshold: float | None, seed: int | None, console: Console
) -> None:
    """Backtest the files one by one with a progress bar, then print where each output went."""
    settings = DetectorSettings() if seed is None else DetectorSettings(seed=seed)
    rows = {path: len(read_series(path).values) for path in files}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        for path in files:
            task = progress.add_task(path.name, total=rows[path])

            def advance(n: int, task: TaskID = task) -> None:
                progress.advance(task, n)

            summary = backtest_file(
                path, out, settings=settings, plot=plot, threshold=threshold, progress=advance
            )
            progress.update(task, completed=rows[path])
            chart = f", chart {summary.plot}" if summary.plot else ""
            console.print(
                f"{summary.name}: {summary.rows} rows, {summary.flagged} at or above {summary.threshold:g} "
                f"-> {summary.output}{chart}"
            )


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
        console = Console(stderr=True)
        try:
            run_backtest(files, out, plot=plot, threshold=threshold, seed=seed, console=console)
        except MalformedSeriesFile as exc:
            console.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from None
