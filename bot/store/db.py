"""Engine and sessions. SQLite (WAL, durable commits) by default; PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; synchronous=FULL keeps every commit on disk
    # before we acknowledge a webhook (group commit keeps that affordable).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def store_unreachable(exc: BaseException) -> bool:
    """Whether `exc` is the connection to the store failing (the server went away, cannot be
    reached, or dropped the connection), not the work done on it: such work is retried without
    counting the attempt against it."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    original = type(exc.orig)
    return original.__module__.startswith("psycopg") and original.__name__ == "OperationalError"


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """How one process uses the database: its connection pool and, on PostgreSQL, the limits every
    connection gets (`[database]` in the config; docs/ha.md sizes them per replica)."""

    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout_seconds: float = 30.0
    statement_timeout_ms: int = 0  # 0: no limit
    lock_timeout_ms: int = 0  # 0: no limit
    connect_timeout_seconds: int = 10


def _postgres_limits(options: PoolOptions) -> Callable[[Any, Any], None]:
    """Every new connection gets the statement and lock timeouts as session settings."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {int(options.statement_timeout_ms)}")
            cursor.execute(f"SET lock_timeout = {int(options.lock_timeout_ms)}")
        dbapi_connection.commit()

    return on_connect


def make_engine(
    url: str, *, pool_size: int = 5, echo: bool = False, options: PoolOptions | None = None
) -> Engine:
    pool = options or PoolOptions(pool_size=pool_size)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool.pool_size,
            max_overflow=pool.max_overflow,
            pool_timeout=pool.pool_timeout_seconds,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; make writes take the lock up front
        # so a read-then-write transaction cannot fail half way with "database is locked".
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    # pre_ping: a connection the server dropped (failover, pg_terminate_backend, idle timeout) is
    # replaced at checkout instead of failing the request that drew it.
    engine = create_engine(
        url,
        echo=echo,
        pool_size=pool.pool_size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.pool_timeout_seconds,
        pool_pre_ping=True,
        connect_args={"connect_timeout": pool.connect_timeout_seconds}
        if url.startswith("postgresql")
        else {},
    )
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_limits(pool))
    return engine


@dataclass
class Store:
    """The database handle the application passes around."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def connect(
        cls, url: str, *, pool_size: int = 5, echo: bool = False, options: PoolOptions | None = None
    ) -> Store:
        engine = make_engine(url, pool_size=pool_size, echo=echo, options=options)
        return cls(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
