"""What every command needs: the config option, loading settings, opening the store."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.config.loader import LoadedConfig, load_config
from bot.config.secrets import configured_secret_values
from bot.engine.engine import Engine
from bot.logs import register_secrets
from bot.store import migrate
from bot.store.db import Store

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file (default: $CONDUCTOR_CONFIG, ./config.toml, embedded defaults)."
    ),
]

# Piped output (scripts, CI logs) must not wrap ids and tables at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)


def load(config: Path | None) -> LoadedConfig:
    """The settings; from here on, the secrets they point at are redacted from every log line."""
    loaded = load_config(config)
    register_secrets(configured_secret_values(loaded.settings, os.environ))
    return loaded


@contextmanager
def open_store(config: Path | None, *, upgrade: bool = True) -> Iterator[tuple[LoadedConfig, Store]]:
    loaded = load(config)
    loaded.settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.connect(loaded.settings.database_url())
    try:
        if upgrade:
            migrate.upgrade(store)
        yield loaded, store
    finally:
        store.dispose()


@contextmanager
def open_engine(config: Path | None) -> Iterator[tuple[LoadedConfig, Engine]]:
    """The engine over the configured store, without starting workers (serve executes runs)."""
    from bot.clock import utc_now
    from bot.engine.deps import EngineDeps
    from bot.engine.services import build_services
    from bot.runbooks.loader import load_builtin_runbooks, load_runbook_dirs

    with open_store(config) as (loaded, store):
        load_builtin_runbooks()
        load_runbook_dirs(list(loaded.settings.runbooks.directories))
        deps = EngineDeps(
            store=store, settings=loaded.settings, services=build_services(loaded.settings), clock=utc_now
        )
        yield loaded, Engine(deps)
