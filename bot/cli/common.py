"""What every command needs: the config option, loading settings, opening the store, and who is
acting.

Identity: the CLI acts as `cli:<OS user>` with `[permissions.cli] role` (default admin: whoever
can run it can reach the store directly anyway). `--as NAME` acts for NAME — their own role, never
above the CLI's — only with `[permissions.cli] act_as = true`. Every command that reads or changes
the store goes through the same authorization decision as Slack and the API, and a refusal is
audited.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.access.grants import Grants
from bot.access.guard import Guard
from bot.access.policy import AccessRequest, Refused
from bot.clock import utc_now
from bot.config.loader import LoadedConfig, load_config
from bot.config.secrets import configured_secret_values
from bot.logs import register_secrets
from bot.roles import Principal
from bot.store import migrate
from bot.store.db import Store

if TYPE_CHECKING:
    from bot.engine.engine import Engine

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file (default: $CONDUCTOR_CONFIG, ./config.toml, embedded defaults)."
    ),
]

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act for this person (needs [permissions.cli] act_as = true)."),
]


def load(config: Path | None) -> LoadedConfig:
    """The settings; from here on, the secrets they point at are redacted from every log line."""
    loaded = load_config(config)
    register_secrets(configured_secret_values(loaded.settings, os.environ))
    return loaded


@contextmanager
def open_store(config: Path | None, *, upgrade: bool = True) -> Iterator[tuple[LoadedConfig, Store]]:
    loaded = load(config)
    loaded.settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.connect(loaded.settings.database_url(), options=loaded.settings.database.pool_options())
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
    from bot.engine.engine import Engine
    from bot.engine.services import build_services
    from bot.runbook_kit.loader import load_builtin_runbooks, load_runbook_dirs

    with open_store(config) as (loaded, store):
        load_builtin_runbooks()
        load_runbook_dirs(list(loaded.settings.runbooks.directories))
        deps = EngineDeps(
            store=store, settings=loaded.settings, services=build_services(loaded.settings), clock=utc_now
        )
        yield loaded, Engine(deps)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return f"uid{os.getuid()}"


def acting(
    loaded: LoadedConfig, store: Store, what: AccessRequest | None, *, act_as: str | None = None
) -> Principal:
    """The CLI's principal, allowed to do `what` (None: only identify). A refusal is audited
    and raised as PermissionDenied (exit 2)."""
    grants = Grants(loaded.settings, os.environ)
    guard = Guard(store, utc_now, grants.limits)
    found = grants.cli_user(os_user(), act_as)
    if isinstance(found, Refused):
        guard.refuse(f"cli:{os_user()}", found, attempt=f"--as {act_as}", subject="cli")
    assert isinstance(found, Principal)
    if what is not None:
        guard.enforce(found, what, subject="cli")
    return found
