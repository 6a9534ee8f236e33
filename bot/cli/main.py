"""The `conductor` command. Each sub-command lives in its own module and only parses,
calls one function of the core and prints the answer.

Start-up is kept short (< 1 s for a command that does not score): only the module of the command
being run is imported. `conductor --help` and an unknown command import none of them; the listing
comes from `COMMANDS`.

A usage mistake prints one line (``error: ...``) and exits 2, with no traceback: typer's click
exceptions (typer >= 0.20 ships its own click as `typer._click`) and plain click's are caught here.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import typer

from bot.cli.output import write_error
from bot.errors import ConductorError


@dataclass(frozen=True, slots=True)
class CommandEntry:
    """A top-level command: the module that registers it and its one-line help."""

    module: str
    help: str


# name -> where it lives. `register(app)` of the module adds the command (or group) of that name.
COMMANDS: dict[str, CommandEntry] = {
    "serve": CommandEntry("bot.cli.serve_cmd", "Run the HTTP server, the workers and the scheduler."),
    "check-config": CommandEntry("bot.cli.serve_cmd", "Validate the configuration; list every problem."),
    "db": CommandEntry("bot.cli.serve_cmd", "Database maintenance."),
    "backtest": CommandEntry("bot.cli.backtest_cmd", "Stream series through the detector, write scores."),
    "incidents": CommandEntry("bot.cli.incidents_cmd", "Look at and act on incidents."),
    "silences": CommandEntry("bot.cli.incidents_cmd", "Mute alerts matching label matchers for a while."),
    "audit": CommandEntry("bot.cli.audit_cmd", "The append-only audit log."),
    "deadletter": CommandEntry("bot.cli.audit_cmd", "Payloads that could not be understood."),
    "runbooks": CommandEntry("bot.cli.runbooks_cmd", "The runbooks the bot can run."),
    "run": CommandEntry("bot.cli.runbooks_cmd", "Plan (--dry-run) or request a runbook run."),
    "approvals": CommandEntry("bot.cli.runbooks_cmd", "Runs waiting for a human decision."),
    "freeze": CommandEntry("bot.cli.policies_cmd", "Change freezes and maintenance windows."),
    "alerts": CommandEntry("bot.cli.alerts_cmd", "Inspect alert payloads."),
    "sweep": CommandEntry("bot.cli.sweep_cmd", "Scheduled sweeps: run one now, list them."),
    "simulate": CommandEntry(
        "bot.cli.simulate_cmd", "What would the bot do with this payload? (changes nothing)"
    ),
    "report": CommandEntry("bot.cli.report_cmd", "KPIs: MTTD, MTTA, MTTR, automatic resolution, noise."),
}


def _new_app() -> typer.Typer:
    app = typer.Typer(
        name="conductor",
        help="Cloud Conductor: alarms in, verified remediation out.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    # A callback keeps `conductor` a group even when only one command is registered (typer would
    # otherwise make that command the whole program, and `conductor report` an extra argument).
    @app.callback()
    def conductor() -> None:
        pass

    return app


def _placeholder(app: typer.Typer, name: str, entry: CommandEntry) -> None:
    """A command that only lists `name` in `conductor --help` (it is never run: a real command
    name imports its real module instead)."""

    def listed() -> None:  # pragma: no cover - never invoked
        raise typer.Exit(2)

    app.command(name, help=entry.help, add_help_option=False)(listed)


def build_app(argv: list[str]) -> typer.Typer:
    """The app for this command line: the named command's module, or placeholders for --help."""
    app = _new_app()
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    entry = COMMANDS.get(first) if first is not None else None
    if entry is not None:
        import_module(entry.module).register(app)
        return app
    for name, listed in COMMANDS.items():
        _placeholder(app, name, listed)
    return app


def _click_errors() -> tuple[tuple[type[Exception], ...], tuple[type[BaseException], ...]]:
    """(usage-type exceptions, abort exceptions) of whichever click typer uses, and plain click."""
    usage: list[type[Exception]] = []
    abort: list[type[BaseException]] = [typer.Abort]
    for module in ("typer._click.exceptions", "click.exceptions"):
        if module == "click.exceptions" and "click" not in sys.modules:
            continue  # typer runs on its own click: plain click's errors cannot be raised
        try:
            found: Any = import_module(module)
        except ImportError:
            continue
        usage.append(found.ClickException)
        if hasattr(found, "Abort"):
            abort.append(found.Abort)
    return tuple(usage), tuple(abort)


def _is_help(exc: Exception) -> bool:
    """`conductor incidents` with nothing after it: the group's help, not a mistake."""
    return type(exc).__name__ == "NoArgsIsHelpError"


def _usage_line(exc: Exception) -> str:
    """One line for a click exception: the message, with the command it concerns."""
    message = str(getattr(exc, "format_message", lambda: str(exc))())
    ctx = getattr(exc, "ctx", None)
    where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
    return " ".join(message.split()) + where


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 2 for a usage mistake or a named error."""
    args = list(sys.argv[1:] if argv is None else argv)
    from bot.logs import configure_logging, redact_text

    app = build_app(args)
    # Logs go to stderr so stdout stays the command's answer (`--json | jq`); serve reconfigures.
    configure_logging(level="warning")
    # The Azure SDK logs each failed credential of its chain as a warning (a dozen lines); the
    # error that follows says in one line what is missing.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    usage_errors, aborts = _click_errors()
    try:
        result = app(args=args, prog_name="conductor", standalone_mode=False)
    except aborts:
        write_error("aborted")
        return 1
    except usage_errors as exc:
        if _is_help(exc):
            sys.stdout.write(str(getattr(exc, "format_message", lambda: "")()) + "\n")
            return 2
        write_error(f"error: {_usage_line(exc)}")
        code = getattr(exc, "exit_code", 2)
        return code if isinstance(code, int) and code != 1 else 2
    except ConductorError as exc:
        # Plain text, never wrapped: scripts and people grep these lines.
        write_error(f"error: {redact_text(str(exc))}")
        return 2
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
