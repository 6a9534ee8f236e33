"""`conductor alerts parse --source SOURCE FILE...`: show what a webhook payload means.

Each normalized alert is printed as one compact JSON object per line (the DESIGN.md keys).
No signature or credential is checked: the files are trusted local input. A file that cannot be
parsed is reported on stderr as ``FILE: reason`` and the command exits 2 after the other files
have been printed; a file with no alerts (an SNS subscription confirmation, an ECS task that
started) is not an error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.errors import MalformedPayload, UnknownSource
from integrations.base import ParseOptions
from integrations.registry import PARSERS, get_parser

alerts_app = typer.Typer(help="Inspect alert payloads.", no_args_is_help=True)


def _read(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    return Path(file).read_bytes()


@alerts_app.command("parse")
def parse_command(
    files: Annotated[list[str], typer.Argument(metavar="FILE...", help="Payload files ('-' for stdin).")],
    source: Annotated[
        str, typer.Option("--source", "-s", help=f"Webhook source: {', '.join(sorted(PARSERS))}.")
    ],
) -> None:
    """Print each normalized alert in the payload FILEs as one JSON object per line."""
    try:
        parser = get_parser(source)
    except UnknownSource as exc:
        typer.echo(f"--source: {exc}", err=True)
        raise typer.Exit(2) from None
    failed = False
    options = ParseOptions()
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
        for alert in delivery.alerts:
            typer.echo(json.dumps(alert.to_json_dict(), separators=(",", ":"), ensure_ascii=False))
    if failed:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
