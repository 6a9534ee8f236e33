"""`[database]` limits reach every PostgreSQL connection: a statement or a lock wait past its
timeout fails that statement (and only it), and a migration runs without them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.config.loader import parse_settings
from bot.store import migrate
from bot.store.db import PoolOptions, Store

pytestmark = pytest.mark.postgres


@pytest.fixture
def limited(postgres_url: str) -> Iterator[Store]:
    store = Store.connect(
        postgres_url, options=PoolOptions(pool_size=2, statement_timeout_ms=150, lock_timeout_ms=100)
    )
    yield store
    store.dispose()


def test_every_connection_gets_the_configured_timeouts(limited: Store) -> None:
    with limited.engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "150ms"
        assert connection.execute(text("SHOW lock_timeout")).scalar() == "100ms"


def test_a_statement_past_the_timeout_fails_and_the_connection_is_still_usable(limited: Store) -> None:
    with limited.engine.connect() as connection:
        with pytest.raises(OperationalError, match="statement timeout"):
            connection.execute(text("SELECT pg_sleep(5)"))
        connection.rollback()
        assert connection.execute(text("SELECT 1")).scalar() == 1


def test_a_lock_wait_past_the_timeout_fails(limited: Store, postgres_url: str) -> None:
    holder = Store.connect(postgres_url)
    try:
        with holder.engine.begin() as held:
            held.execute(text("SELECT pg_advisory_xact_lock(4242)"))
            with limited.engine.connect() as waiting, pytest.raises(OperationalError, match="lock timeout"):
                waiting.execute(text("SELECT pg_advisory_xact_lock(4242)"))
    finally:
        holder.dispose()


def test_migrations_run_without_the_timeouts(limited: Store) -> None:
    migrate.upgrade(limited)  # already current: the point is that SET LOCAL is accepted
    with limited.engine.connect() as connection:  # and does not leak into the pool
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "150ms"


def test_config_keys_map_to_pool_options() -> None:
    settings = parse_settings(
        {"database": {"pool_size": 7, "max_overflow": 3, "statement_timeout_ms": 0, "lock_timeout_ms": 500}},
        {},
    )
    options = settings.database.pool_options()
    assert (options.pool_size, options.max_overflow) == (7, 3)
    assert (options.statement_timeout_ms, options.lock_timeout_ms) == (0, 500)
    helper = settings.database.pool_options(pool_size=2)  # the intake process: small, no overflow
    assert (helper.pool_size, helper.max_overflow) == (2, 0)
