"""The `conductor` command. Each sub-command lives in its own module and only parses,
calls one function of the core and prints the answer."""

from __future__ import annotations

import sys
from importlib import import_module

import typer
from rich.console import Console

from bot.errors import ConductorError

app = typer.Typer(
    name="conductor",
    help="Cloud Conductor: alarms in, verified remediation out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each module registers its commands on `app` through `register(app)`.
COMMAND_MODULES = (
    "bot.cli.serve_cmd",
    "bot.cli.incidents_cmd",
    "bot.cli.audit_cmd",
    "bot.cli.alerts_cmd",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        import_module(name).register(app)


def main() -> None:
    _register_all()
    try:
        app()
    except ConductorError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        sys.exit(2)
