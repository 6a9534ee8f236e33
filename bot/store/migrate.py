"""Apply and inspect migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.store.db import Store

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


# pg_advisory_xact_lock key of `conductor db upgrade` (any fixed number; "cndctr" in ASCII).
MIGRATION_LOCK = 0x636E64637472


def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the schema to `revision`. Safe when several replicas (or a migration Job and the
    replicas) run it at once on PostgreSQL: each takes one advisory lock first, so one migrates
    while the others wait, then find nothing left to do. Migrations run without the statement and
    lock timeouts of ordinary work (a schema change on a big table may take a while)."""
    config = alembic_config()
    with store.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("SET LOCAL lock_timeout = 0"))
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(store: Store) -> bool:
    return current_revision(store) == head_revision()
