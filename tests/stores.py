"""Stores for tests: a fresh SQLite file, or a private schema on the local PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from bot.store import migrate
from bot.store.db import Store

PG_BASE_URL = os.environ.get(
    "CONDUCTOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_available() -> str | None:
    """None when reachable, else the reason."""
    try:
        engine = create_engine(PG_BASE_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"{exc.__class__.__name__}: {exc}"
    return None


def require_postgres() -> None:
    """Skip locally, fail in CI (CI=true), when PostgreSQL is not reachable."""
    reason = postgres_available()
    if reason is None:
        return
    message = f"PostgreSQL at {PG_BASE_URL} is not available ({reason})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + "; CI requires it", pytrace=False)
    pytest.skip(message)


@contextmanager
def postgres_schema(*, migrated: bool = True, base_url: str = PG_BASE_URL) -> Iterator[str]:
    """A private schema (migrated unless told otherwise); yields its URL and drops it afterwards."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base_url}?options=-csearch_path%3D{schema}"
    if migrated:
        store = Store.connect(url)
        migrate.upgrade(store)
        store.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def truncate_all(store: Store) -> None:
    from bot.store.models import Base

    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with store.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
