"""`conductor freeze add|list|end` and `conductor runbooks resume|circuits`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from bot.access.policy import Action, Do
from bot.cli.common import AsOption, ConfigOption, acting, open_store
from bot.cli.output import console, print_json_lines
from bot.clock import utc_now
from bot.policies.circuits import circuit_json, list_circuits, resume
from bot.policies.freeze_input import freeze_from_options
from bot.policies.freezes import add_freeze, end_freeze, freeze_json, list_freezes

freeze_app = typer.Typer(
    help="Change freezes and maintenance windows: automatic runs in scope need approval (or stop).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON Lines instead of a table.")]


@freeze_app.command("add")
def freeze_add(
    name: Annotated[str, typer.Option("--name", help="What people will see, e.g. 'release freeze'.")],
    match: Annotated[
        list[str] | None,
        typer.Option("--match", "-m", help='Scope, repeatable: service=orders, runbook=~"aws\\.ecs\\..*"'),
    ] = None,
    duration: Annotated[str | None, typer.Option(help="One-off, from now (or --starts): 2h, 1d.")] = None,
    until: Annotated[datetime | None, typer.Option(help="One-off end, ISO 8601 with offset.")] = None,
    starts: Annotated[datetime | None, typer.Option(help="One-off start (default now).")] = None,
    cron: Annotated[str | None, typer.Option(help='Recurring: 5-field cron, e.g. "0 22 * * FRI".')] = None,
    window: Annotated[
        str | None, typer.Option(help="Recurring: how long each window lasts, e.g. 8h.")
    ] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of --cron (IANA name).")] = "UTC",
    block: Annotated[
        bool, typer.Option("--block", help="No automatic runs at all (not just approval).")
    ] = False,
    maintenance: Annotated[
        bool, typer.Option("--maintenance", help="Also mark alerts in scope (kept, shown, no pages).")
    ] = False,
    comment: str = "",
    act_as: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a freeze (needs the approver role). Empty scope: everything."""
    now = utc_now()
    declared = freeze_from_options(
        name=name,
        matchers=match or [],
        now=now,
        duration=duration,
        until=until,
        starts=starts,
        cron=cron,
        window=window,
        timezone=timezone,
        block=block,
        maintenance=maintenance,
        comment=comment,
    )
    with open_store(config) as (loaded, store):
        who = acting(loaded, store, Do(Action.FREEZE), act_as=act_as)
        with store.transaction() as session:
            freeze = add_freeze(session, declared, created_by=who.actor, origin="cli", now=now)
            shown = freeze_json(freeze, now)
    when = (
        f"cron {shown['cron']} for {shown['duration_minutes']:g} min ({shown['timezone']})"
        if shown["cron"]
        else (f"until {shown['ends_at']}")
    )
    kind = "blocks automatic runs" if shown["block"] else "automatic runs need approval"
    console.print(f'freeze {shown["id"]} "{shown["name"]}" on {shown["scope"]}, {when}: {kind}', markup=False)


@freeze_app.command("list")
def freeze_list(
    config: ConfigOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include ended freezes.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Freezes that are in force or upcoming (with --all, ended ones too)."""
    now = utc_now()
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.READ))
        with store.sessions() as session:
            rows = [freeze_json(f, now) for f in list_freezes(session, now=now, include_ended=all_)]
    if as_json:
        print_json_lines(rows)
        return
    table = Table("id", "name", "scope", "when", "effect", "active", "by")
    for row in rows:
        when = (
            f"{row['cron']} +{row['duration_minutes']:g}m {row['timezone']}"
            if row["cron"]
            else (f"{row['starts_at']} → {row['ends_at']}")
        )
        effect = ("block" if row["block"] else "approval") + (" + maintenance" if row["maintenance"] else "")
        active = f"until {row['active_until']}" if row["active"] else ("ended" if row["ended_at"] else "no")
        table.add_row(str(row["id"]), row["name"], row["scope"], when, effect, active, row["created_by"])
    console.print(table)


@freeze_app.command("end")
def freeze_end(freeze_id: int, act_as: AsOption = None, config: ConfigOption = None) -> None:
    """End a freeze now (needs the approver role)."""
    with open_store(config) as (loaded, store):
        who = acting(loaded, store, Do(Action.FREEZE), act_as=act_as)
        with store.transaction() as session:
            end_freeze(session, freeze_id, actor=who.actor, now=utc_now())
    console.print(f"freeze {freeze_id} ended")


def runbooks_resume(
    scope: Annotated[str, typer.Argument(help="A runbook id, runbook:ID or service:NAME.")],
    act_as: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Close the open circuit breaker of a runbook (or service:NAME): automatic runs resume."""
    with open_store(config) as (loaded, store):
        who = acting(loaded, store, Do(Action.RESUME), act_as=act_as)
        with store.transaction() as session:
            closed = resume(session, scope, actor=who.actor, now=utc_now())
            ids = ", ".join(str(c.id) for c in closed)
            what = closed[0].scope
    console.print(f"circuit {ids} closed: automatic runs of {what} resume", markup=False)


def runbooks_circuits(
    config: ConfigOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include closed circuits.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Open circuit breakers (with --all, closed ones too)."""
    now = utc_now()
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.READ))
        with store.sessions() as session:
            rows = [circuit_json(c, now) for c in list_circuits(session, now=now, include_closed=all_)]
    if as_json:
        print_json_lines(rows)
        return
    table = Table("id", "scope", "open", "since", "reason", "expires", "closed by")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["scope"],
            str(row["open"]),
            row["opened_at"] or "",
            row["reason"],
            row["expires_at"] or "",
            row["closed_by"],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(freeze_app, name="freeze")


def add_circuit_commands(runbooks: typer.Typer) -> None:
    """`conductor runbooks resume|circuits` (registered by the runbooks command group)."""
    runbooks.command("resume")(runbooks_resume)
    runbooks.command("circuits")(runbooks_circuits)
