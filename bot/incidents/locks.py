"""Serialize the workers (of every replica) that apply alerts to the same alerts or incidents.

`IncidentBook` reads the alert and incident rows a batch touches, decides in memory and writes
back absolute values (counts, status, flap history). That is only right if nobody else changes
those rows in between. SQLite has one writer at a time (BEGIN IMMEDIATE), so there it holds by
construction. On PostgreSQL several workers apply at once, so before reading, an applier takes
transaction-scoped advisory locks on

- every alert it names (`alert:<source>:<fingerprint>`): two deliveries of one alert, and two
  inserts of a new one, wait for each other;
- every group key its firing alerts fall into (`group:<key>`): opening or re-opening the
  incident of a group happens once, the second applier finds it open;
- the group key of every incident its alerts belong to now: everything that changes an
  incident's counts, status or members holds that incident's group lock.

Advisory locks are used rather than `SELECT ... FOR UPDATE` alone because a row that does not
exist yet (the first delivery of an alert, the first incident of a group) cannot be locked.
The incident rows are still read `FOR UPDATE`, which orders appliers against other writers of
an incident (acknowledge, resolve by hand). Keys are taken in one statement, in sorted order, so
two appliers never wait for each other in a cycle; the locks end with the transaction.

Waiting for these locks is queueing, not a fault: during a storm on one group every batch waits
its turn. So the wait is bounded by `statement_timeout` only, not by `lock_timeout` (which
would fail batches that are merely in line, and retry them with a growing back-off).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

from bot.store.models import Alert, Incident

_LOCK = text("SELECT pg_advisory_xact_lock(k) FROM unnest(:keys) AS k").bindparams(
    bindparam("keys", type_=ARRAY(BIGINT))
)
_NO_LOCK_TIMEOUT = text("SET LOCAL lock_timeout = 0")  # for the rest of this transaction
_CHUNK = 500


def alert_lock(source: str, fingerprint: str) -> str:
    return f"alert:{source}:{fingerprint}"


def group_lock(key: str) -> str:
    return f"group:{key}"


def lock_id(name: str) -> int:
    """A stable signed 64-bit id for an advisory lock (a collision only makes two appliers wait)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def takes_locks(connection: Connection) -> bool:
    """Whether this backend needs them: SQLite already serializes writers."""
    return connection.dialect.name == "postgresql"


def lock_names(connection: Connection, names: Iterable[str]) -> None:
    """Take the advisory locks for `names` until the transaction ends (waits for holders)."""
    ids = sorted({lock_id(name) for name in names})
    if ids:
        connection.execute(_NO_LOCK_TIMEOUT)
        connection.execute(_LOCK, {"keys": ids}).all()


def incident_group_keys(connection: Connection, alert_keys: Iterable[tuple[str, str]]) -> set[str]:
    """The group keys of the incidents the given (source, fingerprint) alerts belong to now."""
    keys = list(dict.fromkeys(alert_keys))
    found: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows = connection.execute(
            select(Incident.group_key)
            .join(Alert, Alert.incident_id == Incident.id)
            .where(tuple_(Alert.source, Alert.fingerprint).in_(chunk))
        )
        found.update(str(key) for (key,) in rows)
    return found
