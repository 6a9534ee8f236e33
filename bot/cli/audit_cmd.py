"""`conductor audit tail [-n N] [--follow]` and `conductor deadletter list|show|replay`."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from sqlalchemy import select

from bot.access.policy import Action, Do
from bot.audit import AuditEntry, list_audit
from bot.cli.common import ConfigOption, acting, open_store
from bot.cli.output import console
from bot.clock import utc_now
from bot.deadletters import replay_dead_letter
from bot.errors import NotFound
from bot.store.models import DeadLetter

audit_app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)
dead_app = typer.Typer(help="Payloads that could not be understood, kept for replay.", no_args_is_help=True)


def _line(entry: AuditEntry) -> str:
    details = json.dumps(entry.details, separators=(",", ":"), sort_keys=True) if entry.details else ""
    return f"{entry.at.isoformat()} {entry.actor:<16} {entry.action:<28} {entry.subject} {details}".rstrip()


@audit_app.command("tail")
def tail(
    config: ConfigOption = None,
    n: Annotated[int, typer.Option("-n", help="How many of the latest records.")] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new records.")] = False,
    subject: Annotated[str | None, typer.Option(help="Only this subject, e.g. incident:42.")] = None,
) -> None:
    """Print the latest audit records (oldest first)."""
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.READ))
        with store.transaction() as session:
            entries = list(reversed(list_audit(session, subject=subject, limit=n, newest_first=True)))
        for entry in entries:
            console.print(_line(entry), markup=False, highlight=False)
        last = entries[-1].id if entries else 0
        while follow:
            time.sleep(1.0)
            with store.transaction() as session:
                entries = list_audit(session, subject=subject, after_id=last, limit=500)
            for entry in entries:
                console.print(_line(entry), markup=False, highlight=False)
                last = entry.id


@dead_app.command("list")
def dead_list(config: ConfigOption = None, limit: int = 50) -> None:
    """List dead letters, newest first."""
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.READ))
        with store.transaction() as session:
            rows = session.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)).all()
        for d in rows:
            replayed = f" replayed {d.replayed_at.isoformat()}: {d.replay_result}" if d.replayed_at else ""
            console.print(
                f"{d.id:>6} {d.received_at.isoformat()} {d.source:<12} {d.reason}{replayed}",
                markup=False,
                highlight=False,
            )


@dead_app.command("show")
def dead_show(letter_id: int, config: ConfigOption = None) -> None:
    """Print a dead letter's reason, headers and body."""
    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.READ))
        with store.transaction() as session:
            d = session.get(DeadLetter, letter_id)
        if d is None:
            raise NotFound(f"no dead letter {letter_id}")
        console.print(
            f"source: {d.source}\nreason: {d.reason}\nheaders: {json.dumps(d.headers)}", markup=False
        )
        console.print(d.body.decode("utf-8", errors="replace"), markup=False, highlight=False)


@dead_app.command("replay")
def dead_replay(letter_id: int, config: ConfigOption = None) -> None:
    """Parse a dead letter again (after a fix) and, if it parses now, queue it for processing."""
    from bot.ingest.parsing import make_parse

    with open_store(config) as (loaded, store):
        acting(loaded, store, Do(Action.ADMINISTER))
        result = replay_dead_letter(store, letter_id, parse=make_parse(loaded.settings), now=utc_now())
    console.print(result)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(dead_app, name="deadletter")
