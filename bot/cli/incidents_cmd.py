"""`conductor incidents list|show|ack|resolve` and `conductor silences add|list|expire`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from bot.access.policy import Action, AddSilence, Do
from bot.cli.common import AsOption, ConfigOption, acting, open_store
from bot.cli.output import console, print_json_line, print_json_lines
from bot.clock import utc_now
from bot.incidents import service
from bot.incidents.silences import add_silence, expire_silence, list_silences, silence_json
from bot.matching import parse_matcher
from bot.timeparse import parse_duration

incidents_app = typer.Typer(help="Look at and act on incidents.", no_args_is_help=True)
silences_app = typer.Typer(help="Mute alerts matching label matchers for a while.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON Lines (one object per line).")]


@incidents_app.command("list")
def list_cmd(
    config: ConfigOption = None,
    status: Annotated[str, typer.Option(help="open | all | resolved")] = "open",
    limit: int = 50,
    as_json: JsonOption = False,
) -> None:
    """List incidents, newest first."""
    if status not in ("open", "all", "resolved"):
        raise typer.BadParameter("use open, all or resolved", param_hint="--status")
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.READ))
        with store.transaction() as session:
            rows = [
                service.incident_json(i)
                for i in service.list_incidents(session, service.IncidentFilter(status, limit))
            ]
    if as_json:
        print_json_lines(rows)
        return
    table = Table("id", "status", "severity", "title", "opened", "score", "decision")
    for row in rows:
        score = row["anomaly"]["score"]
        table.add_row(
            str(row["id"]),
            row["status"],
            row["severity"],
            row["title"],
            row["opened_at"] or "",
            "" if score is None else f"{score:.2f}",
            row["decision"]["decision"] or "",
        )
    console.print(table)


@incidents_app.command("show")
def show_cmd(incident_id: int, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show one incident with its alerts, as JSON (--json: one line)."""
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.READ))
        with store.transaction() as session:
            data = service.incident_json(service.get_incident(session, incident_id))
            data["alerts"] = [service.alert_json(a) for a in service.incident_alerts(session, incident_id)]
    if as_json:
        print_json_line(data)
    else:
        console.print_json(json.dumps(data))


@incidents_app.command("ack")
def ack_cmd(incident_id: int, act_as: AsOption = None, config: ConfigOption = None) -> None:
    """Acknowledge an open incident."""
    with open_store(config) as (loaded, store):
        who = acting(loaded, store, Do(Action.ACKNOWLEDGE), act_as=act_as)
        with store.transaction() as session:
            service.acknowledge(session, incident_id, actor=who.actor, now=utc_now())
    console.print(f"incident {incident_id} acknowledged by {who.actor}")


@incidents_app.command("resolve")
def resolve_cmd(incident_id: int, act_as: AsOption = None, config: ConfigOption = None) -> None:
    """Resolve an incident by hand."""
    with open_store(config) as (loaded, store):
        who = acting(loaded, store, Do(Action.RESOLVE), act_as=act_as)
        with store.transaction() as session:
            service.resolve(session, incident_id, actor=who.actor, now=utc_now())
    console.print(f"incident {incident_id} resolved by {who.actor}")


@silences_app.command("add")
def silence_add(
    matchers: Annotated[list[str], typer.Argument(help='Matchers, e.g. alertname=HighCPU service=~"api.*"')],
    duration: Annotated[str, typer.Option(help="How long, e.g. 30m, 2h, 1d.")] = "1h",
    comment: str = "",
    act_as: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a silence starting now (one matching every alert, or longer than
    [permissions] max_silence_hours, needs the admin role)."""
    now = utc_now()
    length: timedelta = parse_duration(duration)
    parsed = [parse_matcher(m) for m in matchers]
    with open_store(config) as (loaded, store):
        who = acting(loaded, store, AddSilence(tuple(parsed), length), act_as=act_as)
        with store.transaction() as session:
            silence = add_silence(
                session,
                matchers=parsed,
                starts_at=now,
                ends_at=now + length,
                created_by=who.actor,
                comment=comment,
                origin="cli",
                now=now,
            )
            console.print(f"silence {silence.id} until {silence.ends_at.isoformat()}")


@silences_app.command("list")
def silence_list(
    config: ConfigOption = None, all_: Annotated[bool, typer.Option("--all", help="Include expired.")] = False
) -> None:
    """List active silences."""
    now = utc_now()
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.READ))
        with store.transaction() as session:
            rows = [silence_json(s, now) for s in list_silences(session, now=now, include_expired=all_)]
    table = Table("id", "matchers", "ends", "by", "comment", "active")
    for row in rows:
        matchers = " ".join(f'{m["name"]}{m["op"]}"{m["value"]}"' for m in row["matchers"])
        table.add_row(
            str(row["id"]), matchers, row["ends_at"], row["created_by"], row["comment"], str(row["active"])
        )
    console.print(table)


@silences_app.command("expire")
def silence_expire(silence_id: int, act_as: AsOption = None, config: ConfigOption = None) -> None:
    """End a silence now."""
    with open_store(config) as (loaded, store):
        who = acting(loaded, store, Do(Action.UNSILENCE), act_as=act_as)
        with store.transaction() as session:
            expire_silence(session, silence_id, actor=who.actor, now=utc_now())
    console.print(f"silence {silence_id} expired")


def register(app: typer.Typer) -> None:
    app.add_typer(incidents_app, name="incidents")
    app.add_typer(silences_app, name="silences")
