"""`conductor report [--since 30d] [--service S] [--json] [--plot FILE.png]`: the KPIs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.access.policy import Action, Do
from bot.cli.common import ConfigOption, acting, open_store
from bot.cli.output import console, print_json_line
from bot.clock import utc_now
from bot.errors import ConductorError
from bot.kpis.compute import compute_kpis
from bot.timeparse import parse_duration


class UnwritableChart(ConductorError):
    """The --plot file cannot be written."""


def report(
    since: Annotated[str, typer.Option(help="How far back, e.g. 7d, 30d, 12h.")] = "30d",
    service: Annotated[str | None, typer.Option(help="Only alerts labelled service=S.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines (one object).")] = False,
    plot: Annotated[Path | None, typer.Option(help="Also write a PNG chart to this file.")] = None,
    config: ConfigOption = None,
) -> None:
    """MTTD, MTTA, MTTR, automatic resolution rate, runbook effectiveness, approvals and noise
    (definitions: docs/kpis.md)."""
    until = utc_now()
    start = until - parse_duration(since)
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.READ))
        with store.sessions() as session:
            kpis = compute_kpis(session, since=start, until=until, service=service)
    if plot is not None:
        from bot.kpis.render import render_kpi_chart

        try:
            plot.write_bytes(render_kpi_chart(kpis))
        except OSError as exc:
            raise UnwritableChart(f"--plot {plot}: cannot write ({exc.strerror or exc})") from None
    if as_json:
        print_json_line(kpis.to_json())
    else:
        from bot.kpis.render import report_lines

        for line in report_lines(kpis):
            console.print(line, markup=False, highlight=False)
    if plot is not None and not as_json:
        console.print(f"chart: {plot}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
