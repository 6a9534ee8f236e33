"""`conductor alerts parse --source SOURCE FILE...`: show what a webhook payload means.

Each normalized alert is printed as one compact JSON object per line (the DESIGN.md keys).
No signature or credential is checked: the files are trusted local input. A file that cannot be
parsed is reported on stderr as ``FILE: reason`` and the command exits 2 after the other files
have been printed; a file with no alerts (an SNS subscription confirmation, an ECS task that
started) is not an error. What the server would do beyond printing alerts is said on stderr: an
event type the parser does not handle (kept as a dead letter, or a generic alert), and each
malformed optional field that was left empty.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import ConfigOption, load
from bot.errors import MalformedPayload, UnknownSource
from bot.ingest.parsing import parse_options
from integrations.base import DeliveryKind, ParsedDelivery, ParseOptions
from integrations.registry import PARSERS, get_parser

alerts_app = typer.Typer(help="Inspect alert payloads.", no_args_is_help=True)


def _read(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    return Path(file).read_bytes()


# Why a delivery of a handled kind has no alert.
_NO_ALERT = {
    DeliveryKind.SUBSCRIPTION_CONFIRMATION: "SNS subscription confirmation (the server confirms it)",
    DeliveryKind.UNSUBSCRIBE_CONFIRMATION: "SNS unsubscribe confirmation",
    DeliveryKind.TEST: "a test notification",
    DeliveryKind.ALERTS: "a handled event type that changes no alert (see docs/sources.md)",
}


def _notes(file: str, delivery: ParsedDelivery) -> list[str]:
    """The stderr lines for what the delivery means besides its alerts."""
    notes = []
    if delivery.kind is DeliveryKind.UNSUPPORTED:
        notes.append(
            f"{file}: unsupported event type {delivery.unsupported_type}: no alert "
            "(the server keeps it as a dead letter)"
        )
    elif delivery.unsupported_type is not None:
        notes.append(
            f"{file}: unsupported event type {delivery.unsupported_type}: "
            "a generic alert from the fields every event of this source has"
        )
    elif not delivery.alerts:
        notes.append(f"{file}: no alert: {_NO_ALERT[delivery.kind]}")
    for warning in delivery.warnings:
        notes.append(f"{file}: warning: {warning.reason} (left empty)")
    return notes


def _options(config: Path | None) -> ParseOptions:
    """The ``[ingest.*]`` parse options of `config`; the built-in defaults without one (a bad
    config is a ConfigError, which the top-level handler reports)."""
    return ParseOptions() if config is None else parse_options(load(config).settings)


@alerts_app.command("parse")
def parse_command(
    files: Annotated[list[str], typer.Argument(metavar="FILE...", help="Payload files ('-' for stdin).")],
    source: Annotated[
        str, typer.Option("--source", "-s", help=f"Webhook source: {', '.join(sorted(PARSERS))}.")
    ],
    config: ConfigOption = None,
) -> None:
    """Print each normalized alert in the payload FILEs as one JSON object per line."""
    try:
        parser = get_parser(source)
    except UnknownSource as exc:
        typer.echo(f"--source: {exc}", err=True)
        raise typer.Exit(2) from None
    failed = False
    options = _options(config)
    for file in files:
        try:
            delivery = parser(_read(file), headers={}, options=options)
        except OSError as exc:
            typer.echo(f"{file}: cannot read ({exc.strerror or exc})", err=True)
            failed = True
            continue
        except MalformedPayload as exc:
            typer.echo(f"{file}: {exc.reason}", err=True)
            failed = True
            continue
        for note in _notes(file, delivery):
            typer.echo(note, err=True)
        for alert in delivery.alerts:
            typer.echo(json.dumps(alert.to_json_dict(), separators=(",", ":"), ensure_ascii=False))
    if failed:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
