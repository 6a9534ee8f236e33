"""`conductor sweep run NAME` and `conductor sweep list`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.access.policy import Action, Do
from bot.cli.common import ConfigOption, acting, open_store
from bot.cli.output import console, err_console, print_json_line
from bot.clock import utc_now
from bot.scheduler.status import sweeps_overview
from bot.sweeps.render import finding_line, report_summary
from bot.sweeps.report import SweepReport
from bot.sweeps.runner import SweepContext, run_sweep
from bot.sweeps.sources import SweepSources

sweep_app = typer.Typer(
    help="Scheduled sweeps: anomaly scans, waste report, budget check.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON Lines (one object per line).")]


@sweep_app.command("run")
def run_cmd(
    name: Annotated[str, typer.Argument(help="The sweep's name, as configured under [[sweeps]].")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> int:
    """Run one configured sweep now and print its findings (stored like a scheduled run)."""
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.RUN_SWEEP))
        context = SweepContext(loaded.settings, store, SweepSources(loaded.settings))
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(
            *columns, console=err_console, transient=True, disable=as_json or not err_console.is_terminal
        ) as bar:
            task = bar.add_task(f"sweep {name}", total=None)

            def progress(step: str, done: int, total: int) -> None:
                bar.update(task, description=f"{name}: {step}", completed=done, total=total)

            report = run_sweep(name, context=context, progress=progress)
    if as_json:
        print_json_line(report.to_json())
    else:
        _print_report(report)
    return 1 if report.status == "failed" else 0


def _print_report(report: SweepReport) -> None:
    console.print(report_summary(report), markup=False, highlight=False, soft_wrap=True)
    for source in report.sources:
        state = "healthy" if source.healthy else f"UNHEALTHY: {source.error or 'failing'}"
        console.print(
            f"  source {source.source}: {source.series} series, {state}", markup=False, soft_wrap=True
        )
    if report.error:
        console.print(f"  error: {report.error}", markup=False, highlight=False, soft_wrap=True)
    for finding in report.findings:
        console.print(f"  - {finding_line(finding)}", markup=False, highlight=False, soft_wrap=True)
    if not report.findings and report.status != "failed":
        console.print("  no findings", markup=False)


@sweep_app.command("list")
def list_cmd(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List configured sweeps with their last and next runs."""
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.READ))
        with store.sessions() as session:
            overview = sweeps_overview(loaded.settings, session, utc_now())
    if as_json:
        print_json_line(overview)
        return
    table = Table("name", "kind", "schedule", "last run", "series", "findings", "next run (UTC)")
    table.columns[0].no_wrap = True
    for item in overview["sweeps"]:
        last = item["last_run"] or {}
        schedule = item["schedule"] + ("" if item["enabled"] else " (disabled)")
        table.add_row(
            item["name"],
            item["kind"],
            schedule,
            _last_run(last, item["unhealthy_sources"]),
            str(last.get("series_scanned", "")),
            str(last.get("findings_count", "")),
            _short(item["next_run"]) or "-",
        )
    console.print(table)
    leader = overview["scheduler"]["leader"]
    console.print(f"scheduler leader: {leader or 'none (no replica holds the lease)'}", markup=False)


def _short(stamp: str | None) -> str:
    """`2026-11-23T12:00:00.123456Z` -> `2026-11-23 12:00:00`."""
    return (stamp or "")[:19].replace("T", " ")


def _last_run(last: dict[str, Any], unhealthy: list[str]) -> str:
    if not last:
        return "never"
    took = last.get("duration_seconds")
    text = f"{_short(last.get('started_at'))} {last.get('status')}"
    if took is not None:
        text += f" in {took:.1f}s"
    if unhealthy:
        text += f" (unhealthy: {', '.join(unhealthy)})"
    return text


def register(app: typer.Typer) -> None:
    app.add_typer(sweep_app, name="sweep")
