"""`conductor db upgrade` run by several processes at once on one empty PostgreSQL schema: one
migrates, the others wait for it and then find the schema current; every one exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from bot.store import migrate
from tests.stores import postgres_schema, require_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
PROCESSES = 4


@pytest.fixture
def empty_schema() -> Iterator[str]:
    require_postgres()
    with postgres_schema(migrated=False) as url:
        yield url


def test_parallel_upgrades_migrate_once_and_all_succeed(empty_schema: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CONDUCTOR_DATABASE_URL": empty_schema,
        "CONDUCTOR_DATA_DIR": str(tmp_path / "var"),
        "CONDUCTOR_CONFIG": "",
    }
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "db", "upgrade"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(PROCESSES)
    ]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0] * PROCESSES, "\n---\n".join(outputs)
    engine = create_engine(empty_schema)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert versions == [migrate.head_revision()]
    assert {"raw_events", "incidents", "alerts", "notifications", "jobs"} <= tables
