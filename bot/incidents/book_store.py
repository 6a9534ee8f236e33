"""Where `IncidentBook` reads and writes the store: the load points and the write points.

`LoadedIncidents` loads, in a few queries, everything a batch of deliveries can read or change
(the alerts it names, their incidents, the open and recently resolved incidents of its group
keys, and those incidents' alerts), keeps it current in memory while deliveries are applied, and
writes it back at the end of each delivery. What was loaded stays true for the whole transaction:
only one writer works on a SQLite store at a time (BEGIN IMMEDIATE), and on PostgreSQL the batch
first locks the alerts, group keys and incidents it may change (`bot.incidents.locks`), so workers
of every replica applying to the same incident take turns.

Load points: `_load` (up front: locks, then `_read`) and `incident` (an incident not loaded up
front, not expected).
Write points: `write_rows` (alerts and incidents: one INSERT, and one UPDATE per set of changed
columns, executemany), `insert_incident` (a new incident: INSERT ... RETURNING id, since its id is
needed at once) and `flush` (then the delivery's audit records and jobs, built by
`bot.audit.audit_row` / `bot.jobs.job_row`, as one multi-row INSERT each, in the order made).
ORM objects the caller's session already holds for these rows are not refreshed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from bot.alerts.normalized import AlertStatus, NormalizedAlert
from bot.audit import audit_row, insert_audit_rows
from bot.config.settings import IncidentSettings
from bot.incidents.grouping import group_key
from bot.incidents.locks import alert_lock, group_lock, incident_group_keys, lock_names, takes_locks
from bot.incidents.muting import FiringAlert
from bot.incidents.tracked_rows import AlertRow, IncidentRow
from bot.jobs import insert_job_rows, job_row
from bot.store.models import Alert, Incident

_CHUNK = 500  # values per IN (...) list, well under every backend's bound-parameter limit
_ALERTS = cast(Table, Alert.__table__)
_INCIDENTS = cast(Table, Incident.__table__)
# What is loaded: every column of an alert row but its id; of an incident, what is read or written here.
# Alerts a batch names are loaded without the JSON columns it only ever overwrites (resource,
# metric, labels, annotations, links): those are written whenever the alert is; the other alerts
# of an incident only with what the incident's refresh reads.
_ALERT_COLUMNS = tuple(
    c for c in _ALERTS.columns if c.name not in ("id", "resource", "metric", "labels", "annotations", "links")
)
_MEMBER_COLUMNS = tuple(
    _ALERTS.c[name] for name in ("source", "fingerprint", "status", "severity", "flapping", "incident_id")
)
_NEW_INCIDENT_COLUMNS = (
    "group_key",
    "open_group_key",
    "status",
    "title",
    "severity",
    "provider",
    "resource_type",
    "resource_id",
    "opened_at",
    "updated_at",
)
_INSERT_ALERTS = insert(_ALERTS)
_INSERT_INCIDENT = (
    insert(_INCIDENTS)
    .values({name: bindparam(name) for name in _NEW_INCIDENT_COLUMNS})
    .returning(_INCIDENTS.c.id)
)
_INCIDENT_COLUMNS = tuple(
    _INCIDENTS.c[name]
    for name in (
        "id",
        "group_key",
        "open_group_key",
        "status",
        "severity",
        "updated_at",
        "resolved_at",
        "resolved_by",
        "reopened_count",
        "alert_events",
        "flapping",
    )
)
_updates: dict[tuple[str, frozenset[str]], Executable] = {}


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _update_statement(table: Table, columns: frozenset[str]) -> Executable:
    """UPDATE <table> SET <columns> WHERE <key> = ?, built once per table and column set."""
    statement = _updates.get((table.name, columns))
    if statement is None:
        if table is _ALERTS:
            where = [
                _ALERTS.c.source == bindparam("key_source"),
                _ALERTS.c.fingerprint == bindparam("key_fingerprint"),
            ]
        else:
            where = [table.c.id == bindparam("key_id")]
        statement = update(table).where(*where).values({name: bindparam(name) for name in sorted(columns)})
        _updates[(table.name, columns)] = statement
    return statement


def firing_alerts(session: Session) -> list[FiringAlert]:
    """Every firing, unmuted alert in the store, as inhibition rules match them."""
    rows = session.execute(
        select(
            Alert.fingerprint, Alert.name, Alert.source, Alert.severity, Alert.resource, Alert.labels
        ).where(Alert.status == AlertStatus.FIRING.value, Alert.muted_reason == "")
    ).all()
    out = []
    for fingerprint, name, source, severity, resource, labels in rows:
        fields = {
            "name": name,
            "source": source,
            "severity": severity,
            "status": "firing",
            "provider": (resource or {}).get("provider") or "other",
            "resource_type": (resource or {}).get("type") or "",
            "resource_id": (resource or {}).get("id") or "",
            "resource_name": (resource or {}).get("name") or "",
        }
        fields.update({f"label:{k}": v for k, v in (labels or {}).items()})
        out.append(FiringAlert(fingerprint, fields))
    return out


class LoadedIncidents:
    """The alerts and incidents a batch of deliveries touches, loaded up front and kept current."""

    def __init__(
        self,
        session: Session,
        *,
        settings: IncidentSettings,
        deliveries: Sequence[Sequence[NormalizedAlert]],
        now: datetime,
    ) -> None:
        self.session = session
        self.settings = settings
        self.conn = session.connection()  # Core statements skip the ORM session's execute path
        self.window = timedelta(minutes=settings.reopen_window_minutes)
        self.alerts: dict[tuple[str, str], AlertRow] = {}
        self.incidents: dict[int, IncidentRow] = {}
        self.open_by_key: dict[str, IncidentRow] = {}
        self.resolved_by_key: dict[str, list[IncidentRow]] = {}
        self.members: dict[int, dict[tuple[str, str], AlertRow]] = {}  # incident id -> its alerts
        self._audits: list[dict[str, Any]] = []
        self._jobs: list[dict[str, Any]] = []
        self._dirty_alerts: dict[tuple[str, str], AlertRow] = {}  # touched by the current delivery
        self._dirty_incidents: dict[int, IncidentRow] = {}
        self._load([a for alerts in deliveries for a in alerts], now)

    # -- loading ---------------------------------------------------------------------------

    def _load(self, alerts: Sequence[NormalizedAlert], now: datetime) -> None:
        self.session.flush()  # what the caller has pending is part of what we read
        keys = {group_key(a, self.settings.group_by) for a in alerts if a.status is AlertStatus.FIRING}
        if not takes_locks(self.conn):
            self._read(alerts, keys, now, for_update=False)
            return
        # Several writers (PostgreSQL): lock what this batch may change, then read it (bot.incidents.locks).
        named = [(a.source, a.fingerprint) for a in alerts]
        wanted = {alert_lock(*key) for key in named} | {group_lock(key) for key in keys}
        wanted |= {group_lock(key) for key in incident_group_keys(self.conn, named)}
        locked: set[str] = set()
        while wanted - locked:
            lock_names(self.conn, wanted - locked)
            locked |= wanted
            self._read(alerts, keys, now, for_update=True)
            # An alert moved to another incident before we held its lock: lock that one too, read again.
            wanted = {group_lock(incident.group_key) for incident in self.incidents.values()}

    def _read(
        self, alerts: Sequence[NormalizedAlert], keys: set[str], now: datetime, *, for_update: bool
    ) -> None:
        conn = self.conn
        self.alerts, self.incidents, self.open_by_key, self.resolved_by_key, self.members = {}, {}, {}, {}, {}
        by_source: dict[str, set[str]] = {}
        for alert in alerts:
            by_source.setdefault(alert.source, set()).add(alert.fingerprint)
        for source, fingerprints in by_source.items():
            for chunk in _chunks(fingerprints):
                self._add_alerts(
                    conn.execute(
                        select(*_ALERT_COLUMNS).where(
                            _ALERTS.c.source == source, _ALERTS.c.fingerprint.in_(chunk)
                        )
                    )
                )
        wanted = {row.incident_id for row in self.alerts.values() if row.incident_id is not None}
        incidents = select(*_INCIDENT_COLUMNS)
        if for_update:
            incidents = incidents.with_for_update()
        for chunk in _chunks(wanted):
            self._add_incidents(conn.execute(incidents.where(_INCIDENTS.c.id.in_(chunk))))
        for chunk in _chunks(keys):
            self._add_incidents(conn.execute(incidents.where(_INCIDENTS.c.open_group_key.in_(chunk))))
            self._add_incidents(
                conn.execute(
                    incidents.where(
                        _INCIDENTS.c.group_key.in_(chunk),
                        _INCIDENTS.c.status == "resolved",
                        _INCIDENTS.c.resolved_at >= now - self.window,
                    )
                )
            )
        for incident_id in self.incidents:
            self.members.setdefault(incident_id, {})
        for chunk in _chunks(self.incidents):
            self._add_alerts(conn.execute(select(*_MEMBER_COLUMNS).where(_ALERTS.c.incident_id.in_(chunk))))

    def _add_alerts(self, rows: Iterable[Any]) -> None:
        for row in rows:
            values = row._asdict()
            key = (values["source"], values["fingerprint"])
            record = self.alerts.get(key)
            if record is None:
                record = self.alerts[key] = AlertRow(values, stored=True)
            if record.incident_id is not None and record.incident_id in self.members:
                self.members[record.incident_id][key] = record

    def _add_incidents(self, rows: Iterable[Any]) -> None:
        for row in rows:
            if row.id in self.incidents:
                continue
            incident = self.incidents[row.id] = IncidentRow(row._asdict(), stored=True)
            if incident.open_group_key is not None:
                self.open_by_key[incident.open_group_key] = incident
            elif incident.status == "resolved":
                self.resolved_by_key.setdefault(incident.group_key, []).append(incident)

    def incident(self, incident_id: int) -> IncidentRow | None:
        """The loaded incident; loaded now (with its alerts) if it was not loaded up front."""
        incident = self.incidents.get(incident_id)
        if incident is None:  # not expected: every referenced incident is loaded up front
            self.write_rows()
            self._add_incidents(
                self.conn.execute(select(*_INCIDENT_COLUMNS).where(_INCIDENTS.c.id == incident_id))
            )
            incident = self.incidents.get(incident_id)
            if incident is not None:
                self.members.setdefault(incident_id, {})
                self._add_alerts(
                    self.conn.execute(select(*_MEMBER_COLUMNS).where(_ALERTS.c.incident_id == incident_id))
                )
        return incident

    # -- changing (in memory, written by `write_rows` / `flush`) ----------------------------

    def touch_alert(self, row: AlertRow) -> None:
        self._dirty_alerts[row.key] = row

    def change(self, incident: IncidentRow, name: str, value: Any) -> None:
        incident.set(name, value)
        self._dirty_incidents[incident.id] = incident

    def audit(self, *, at: datetime, actor: str, subject: str, action: str, details: dict[str, Any]) -> None:
        """An audit record, kept for one multi-row INSERT at `flush`."""
        self._audits.append(audit_row(at=at, actor=actor, subject=subject, action=action, details=details))

    def enqueue_incident_event(self, payload: dict[str, Any], now: datetime) -> None:
        """An `incident.event` job, kept for one multi-row INSERT at `flush`."""
        self._jobs.append(job_row(kind="incident.event", payload=payload, now=now))

    # -- writing ---------------------------------------------------------------------------

    def insert_incident(self, values: dict[str, Any]) -> int:
        """Write a new incident at once (its id names it in the report, the audit log and its alerts)."""
        return int(self.conn.execute(_INSERT_INCIDENT, values).scalar_one())

    def flush(self) -> None:
        """Write everything pending: alert and incident rows, then audit records and jobs in order."""
        self.write_rows()
        self._dirty_alerts = {}
        self._dirty_incidents = {}
        insert_audit_rows(self.conn, self._audits)
        self._audits = []
        insert_job_rows(self.conn, self._jobs)
        self._jobs = []

    def write_rows(self) -> None:
        new: list[dict[str, Any]] = []
        changed: dict[tuple[Table, frozenset[str]], list[dict[str, Any]]] = {}
        for row in self._dirty_alerts.values():
            if not row.stored:
                new.append(dict(row.values))
                row.stored = True
                row.changed = set()
            elif row.changed:
                columns = frozenset(row.changed)
                params = row.take_changes()
                params["key_source"], params["key_fingerprint"] = row.key
                changed.setdefault((_ALERTS, columns), []).append(params)
        for incident in self._dirty_incidents.values():
            if incident.changed:
                columns = frozenset(incident.changed)
                params = incident.take_changes()
                params["key_id"] = incident.id
                changed.setdefault((_INCIDENTS, columns), []).append(params)
        if new:
            self.conn.execute(_INSERT_ALERTS, new)
        for (table, columns), rows in changed.items():
            self.conn.execute(_update_statement(table, columns), rows)
