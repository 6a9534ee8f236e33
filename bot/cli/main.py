"""The `conductor` command. Each sub-command lives in its own module and only parses,
calls one function of the core and prints the answer."""

from __future__ import annotations

import sys
from importlib import import_module

import click
import typer
from rich.console import Console

from bot.errors import ConductorError
from bot.logs import configure_logging, redact_text

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
    "bot.cli.backtest_cmd",
    "bot.cli.incidents_cmd",
    "bot.cli.audit_cmd",
    "bot.cli.runbooks_cmd",
    "bot.cli.policies_cmd",
    "bot.cli.alerts_cmd",
    "bot.cli.sweep_cmd",
)


_registered = False


def _register_all() -> None:
    global _registered
    if _registered:
        return
    for name in COMMAND_MODULES:
        import_module(name).register(app)
    _registered = True


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 2 for bad input or a named error."""
    _register_all()
    # Logs go to stderr so stdout stays the command's answer (`--json | jq`); serve reconfigures.
    configure_logging(level="warning")
    try:
        result = app(args=argv, standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        Console(stderr=True).print("aborted")
        return 1
    except ConductorError as exc:
        # Plain text, never wrapped: scripts and people grep these lines.
        sys.stderr.write(f"error: {redact_text(str(exc))}\n")
        return 2
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
