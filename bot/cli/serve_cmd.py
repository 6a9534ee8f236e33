"""`conductor serve`, `conductor check-config`, `conductor db upgrade`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from bot.cli.common import ConfigOption, load, open_store
from bot.cli.output import console, err_console
from bot.config.loader import choose_config_path
from bot.config.rule_checks import rule_problems_of_file
from bot.errors import ConfigError
from bot.preflight import check_startable, startup_warnings
from bot.store import migrate


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default from config: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from config: 8080).")] = None,
    json_logs: Annotated[bool | None, typer.Option("--json-logs/--human-logs", help="Log format.")] = None,
) -> None:
    """Run the HTTP server, the workers and the scheduler in one process."""
    from bot.server import serve as run_server

    loaded = load(config)
    check_startable(loaded.settings, os.environ)
    run_server(loaded, host=host, port=port, json_logs=json_logs)


def check_config(config: ConfigOption = None) -> None:
    """Validate the configuration and build what `serve` builds from it (without starting
    anything); on error print every `key.path: reason` at once and exit 2. Unsafe settings are
    warned about."""
    try:
        loaded = load(config)
    except ConfigError as exc:
        # The rules' runbook checks run on the valid settings only: add them for the rules that
        # are valid on their own, so one run lists every problem.
        extra = rule_problems_of_file(choose_config_path(config, os.environ))
        raise ConfigError(exc.problems + [p for p in extra if p not in exc.problems]) from None
    check_startable(loaded.settings, os.environ)
    for warning in startup_warnings(loaded.settings, host=loaded.settings.server.host, environ=os.environ):
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    where = str(loaded.path) if loaded.path else "embedded defaults"
    console.print(f"configuration OK ({where})")


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply the store's migrations (serve does this on start)."""
    with open_store(config, upgrade=False) as (_loaded, store):
        before = migrate.current_revision(store)
        migrate.upgrade(store)
        console.print(f"database at revision {migrate.current_revision(store)} (was {before or 'empty'})")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("check-config")(check_config)
    app.add_typer(db_app, name="db")
