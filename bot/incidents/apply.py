"""Apply normalized alerts to the store: upsert, mute, detect flapping, group into incidents.

Runs inside the worker's transaction that also marks the raw event processed, so a crash
either applies a delivery completely or not at all.

`IncidentBook` loads, in a few queries, everything a batch of deliveries can read or change
(the alerts it names, their incidents, the open and recently resolved incidents of its group
keys, and those incidents' alerts) and then applies the deliveries one after another in memory;
each delivery is written before the next one starts. `apply_alerts` is the one-delivery case.
Only one writer works on a SQLite store at a time (BEGIN IMMEDIATE), so what was loaded stays
true for the whole transaction.

Writes are few and multi-row: alerts and incidents are plain records (no ORM unit of work),
written with one INSERT and one UPDATE per set of changed columns (executemany); a delivery's
audit records and jobs go in as one multi-row INSERT each, in the order they were made; a new
incident is a single INSERT ... RETURNING id (its id is needed at once). ORM objects the
caller's session already holds for these rows are not refreshed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Severity
from bot.audit import SYSTEM
from bot.config.settings import IncidentSettings
from bot.incidents.flapping import record_change
from bot.incidents.grouping import group_key, incident_title
from bot.incidents.muting import ActiveSilence, FiringAlert, InhibitionRule, inhibited_by, silenced_by
from bot.logs import redact_value, request_id_var
from bot.policies.freezes import ActiveFreeze, in_maintenance
from bot.store.models import Alert, AuditRecord, Incident, Job

SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.ERROR: 3,
    Severity.WARNING: 2,
    Severity.INFO: 1,
    Severity.UNKNOWN: 0,
}
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
_AUDITS = cast(Table, AuditRecord.__table__)
_JOBS = cast(Table, Job.__table__)
_INSERT_ALERTS = insert(_ALERTS)
_INSERT_AUDITS = insert(_AUDITS)
_INSERT_JOBS = insert(_JOBS)
_INSERT_INCIDENT = (
    insert(_INCIDENTS)
    .values(
        {
            name: bindparam(name)
            for name in (
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
        }
    )
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


@dataclass
class ApplyReport:
    """What applying one delivery changed; the counts feed metrics and logs."""

    alerts_new: int = 0
    alerts_repeated: int = 0
    alerts_muted: int = 0
    opened: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class MutingContext:
    silences: Sequence[ActiveSilence] = ()
    inhibit_rules: Sequence[InhibitionRule] = ()
    # Maintenance windows in force: alerts of their scope are kept, shown, and open nothing.
    maintenance: Sequence[ActiveFreeze] = ()


class Record:
    """One row as loaded (or to be inserted), with the columns changed since it was last written."""

    __slots__ = ("changed", "stored", "values")

    def __init__(self, values: dict[str, Any], *, stored: bool) -> None:
        self.values = values
        self.stored = stored  # the row exists in the database (loaded, or written since)
        self.changed: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def set(self, name: str, value: Any) -> None:
        if name not in self.values or self.values[name] != value:
            self.values[name] = value
            self.changed.add(name)

    def take_changes(self) -> dict[str, Any]:
        changes = {name: self.values[name] for name in self.changed}
        self.changed = set()
        return changes


class AlertRow(Record):
    """A row of `alerts`, keyed by (source, fingerprint)."""

    __slots__ = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.values["source"], self.values["fingerprint"])

    @property
    def status(self) -> str:
        return str(self.values["status"])

    @property
    def incident_id(self) -> int | None:
        value = self.values.get("incident_id")
        return None if value is None else int(value)

    @property
    def flapping(self) -> bool:
        return bool(self.values.get("flapping"))


class IncidentRow(Record):
    """The columns of an `incidents` row that applying alerts reads or writes."""

    __slots__ = ()

    @property
    def id(self) -> int:
        return int(self.values["id"])

    @property
    def status(self) -> str:
        return str(self.values["status"])

    @property
    def group_key(self) -> str:
        return str(self.values["group_key"])

    @property
    def open_group_key(self) -> str | None:
        value = self.values["open_group_key"]
        return None if value is None else str(value)

    @property
    def resolved_at(self) -> datetime | None:
        value = self.values["resolved_at"]
        return value if isinstance(value, datetime) else None


def _severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        return Severity.UNKNOWN


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _firing_alerts(session: Session) -> list[FiringAlert]:
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


_updates: dict[tuple[str, frozenset[str]], Executable] = {}


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


class IncidentBook:
    """The alerts and incidents a batch of deliveries touches, loaded up front and kept current."""

    def __init__(
        self,
        session: Session,
        *,
        settings: IncidentSettings,
        muting: MutingContext,
        deliveries: Sequence[Sequence[NormalizedAlert]],
        now: datetime,
    ) -> None:
        self.session = session
        self.settings = settings
        self.conn = session.connection()  # Core statements skip the ORM session's execute path
        self.muting = muting
        self._window = timedelta(minutes=settings.reopen_window_minutes)
        self._flap_window = timedelta(minutes=settings.flap_window_minutes)
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
        conn = self.conn
        by_source: dict[str, set[str]] = {}
        keys: set[str] = set()
        for alert in alerts:
            by_source.setdefault(alert.source, set()).add(alert.fingerprint)
            if alert.status is AlertStatus.FIRING:
                keys.add(group_key(alert, self.settings.group_by))
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
        for chunk in _chunks(wanted):
            self._add_incidents(conn.execute(incidents.where(_INCIDENTS.c.id.in_(chunk))))
        for chunk in _chunks(keys):
            self._add_incidents(conn.execute(incidents.where(_INCIDENTS.c.open_group_key.in_(chunk))))
            self._add_incidents(
                conn.execute(
                    incidents.where(
                        _INCIDENTS.c.group_key.in_(chunk),
                        _INCIDENTS.c.status == "resolved",
                        _INCIDENTS.c.resolved_at >= now - self._window,
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

    def _incident(self, incident_id: int) -> IncidentRow | None:
        incident = self.incidents.get(incident_id)
        if incident is None:  # not expected: every referenced incident is loaded up front
            self._write_rows()
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

    # -- applying --------------------------------------------------------------------------

    def apply(
        self, alerts: Sequence[NormalizedAlert], *, now: datetime, raw_event_id: int | None
    ) -> ApplyReport:
        """Apply one delivery; written on return, so the next delivery sees it in the database too."""
        report = ApplyReport()
        firing_cache: list[FiringAlert] | None = None
        touched: dict[int, IncidentRow] = {}
        for alert in alerts:
            row = self._upsert_alert(alert, now=now, raw_event_id=raw_event_id, report=report)
            self._audit(
                at=now,
                actor=alert.source,
                subject=f"alert:{alert.source}:{alert.fingerprint}",
                action="alert.received",
                details={"name": alert.name, "status": alert.status.value, "severity": alert.severity.value},
            )
            reason = ""
            if alert.status is AlertStatus.FIRING:
                silence_id = silenced_by(alert, self.muting.silences, now)
                window = in_maintenance(alert, self.muting.maintenance)
                if silence_id is not None:
                    reason = f"silenced:{silence_id}"
                elif window is not None:
                    reason = f"maintenance:{window.id}"
                elif self.muting.inhibit_rules:
                    if firing_cache is None:
                        self._write_rows()  # the query must see this delivery's earlier alerts (and this one)
                        firing_cache = _firing_alerts(self.session)  # reads what _write_rows wrote
                    source = inhibited_by(alert, self.muting.inhibit_rules, firing_cache)
                    if source is not None:
                        reason = f"inhibited:{source}"
            row.set("muted_reason", reason)
            if reason:
                report.alerts_muted += 1
                self._audit(
                    at=now,
                    actor="system",
                    subject=f"alert:{alert.source}:{alert.fingerprint}",
                    action="alert.muted",
                    details={"reason": reason},
                )
                continue
            incident: IncidentRow | None = None
            if alert.status is AlertStatus.FIRING:
                current = self._incident(row.incident_id) if row.incident_id else None
                incident = current if current is not None and current.status != "resolved" else None
                if incident is None:
                    incident = self._open_incident(alert, now, report)
                self._attach(row, incident)
                self._change(incident, "alert_events", incident["alert_events"] + 1)
                self._change(incident, "updated_at", now)
                if incident.id not in report.opened and incident.id not in report.reopened:
                    report.updated.append(incident.id)
            elif row.incident_id is not None:
                incident = self._incident(row.incident_id)
            if incident is not None:
                touched[incident.id] = incident
        for incident in touched.values():
            self._refresh_incident(incident, now, "system", report)
        for event, ids in (
            ("opened", report.opened),
            ("reopened", report.reopened),
            ("updated", report.updated),
            ("resolved", report.resolved),
        ):
            for incident_id in dict.fromkeys(ids):
                payload: dict[str, Any] = {"incident_id": incident_id, "event": event}
                if event == "updated" and incident_id in touched:  # a later repeat's report covers it
                    payload["alert_events"] = touched[incident_id]["alert_events"]
                self._enqueue(payload, now)
        self.flush()
        return report

    def flush(self) -> None:
        """Write everything pending: alert and incident rows, then audit records and jobs in order."""
        self._write_rows()
        self._dirty_alerts = {}
        self._dirty_incidents = {}
        if self._audits:
            self.conn.execute(_INSERT_AUDITS, self._audits)
            self._audits = []
        if self._jobs:
            self.conn.execute(_INSERT_JOBS, self._jobs)
            self._jobs = []

    def _write_rows(self) -> None:
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

    def _change(self, incident: IncidentRow, name: str, value: Any) -> None:
        incident.set(name, value)
        self._dirty_incidents[incident.id] = incident

    def _audit(self, *, at: datetime, actor: str, subject: str, action: str, details: dict[str, Any]) -> None:
        """What `bot.audit.audit` would add, kept for one multi-row INSERT at `flush`."""
        self._audits.append(
            {
                "at": at,
                "actor": actor or SYSTEM,
                "subject": subject,
                "action": action,
                "details": redact_value("details", details),
                "request_id": request_id_var.get(),
            }
        )

    def _enqueue(self, payload: dict[str, Any], now: datetime) -> None:
        """What `bot.jobs.enqueue(kind="incident.event")` would add, kept for one INSERT at `flush`."""
        self._jobs.append(
            {
                "kind": "incident.event",
                "payload": payload,
                "dedupe_key": None,
                "status": "pending",
                "run_after": now,
                "created_at": now,
                "attempts": 0,
                "last_error": "",
            }
        )

    def _upsert_alert(
        self, alert: NormalizedAlert, *, now: datetime, raw_event_id: int | None, report: ApplyReport
    ) -> AlertRow:
        key = (alert.source, alert.fingerprint)
        row = self.alerts.get(key)
        if row is None:
            row = self.alerts[key] = AlertRow(
                {
                    "source": alert.source,
                    "fingerprint": alert.fingerprint,
                    "first_seen": now,
                    "status_changes": [now.isoformat()],
                    "deliveries": 1,
                    "muted_reason": "",
                    "flapping": False,
                    "incident_id": None,
                },
                stored=False,
            )
            report.alerts_new += 1
        else:
            changed = row.status != alert.status.value
            row.set("deliveries", row["deliveries"] + 1)
            report.alerts_repeated += 1
            if changed:
                previous = [datetime.fromisoformat(t) for t in (row["status_changes"] or [])]
                flap = record_change(
                    previous, now, threshold=self.settings.flap_changes, window=self._flap_window
                )
                row.set("status_changes", [t.isoformat() for t in flap.changes])
                if flap.flapping and not row.flapping:
                    self._audit(
                        at=now,
                        actor="system",
                        subject=f"alert:{alert.source}:{alert.fingerprint}",
                        action="alert.flapping",
                        details={"changes": len(flap.changes)},
                    )
                row.set("flapping", flap.flapping)
        row.set("name", alert.name)
        row.set("status", alert.status.value)
        row.set("severity", alert.severity.value)
        row.set("summary", alert.summary)
        row.set("description", alert.description)
        row.set("resource", alert.resource.model_dump(mode="json"))
        row.set("metric", alert.metric.model_dump(mode="json") if alert.metric is not None else None)
        row.set("labels", alert.labels)
        row.set("annotations", alert.annotations)
        row.set("links", alert.links)
        row.set("starts_at", alert.starts_at)
        row.set("ends_at", alert.ends_at)
        row.set("last_seen", now)
        row.set("last_raw_event_id", raw_event_id)
        self._dirty_alerts[key] = row
        return row

    def _attach(self, row: AlertRow, incident: IncidentRow) -> None:
        previous = row.incident_id
        if previous is not None and previous != incident.id:
            self.members.get(previous, {}).pop(row.key, None)
        row.set("incident_id", incident.id)
        self.members.setdefault(incident.id, {})[row.key] = row

    def _open_incident(self, alert: NormalizedAlert, now: datetime, report: ApplyReport) -> IncidentRow:
        key = group_key(alert, self.settings.group_by)
        incident = self.open_by_key.get(key)
        if incident is not None:
            return incident
        window_start = now - self._window
        candidates = [
            i
            for i in self.resolved_by_key.get(key, [])
            if i.status == "resolved" and i.resolved_at is not None and i.resolved_at >= window_start
        ]
        if candidates:
            recent = max(candidates, key=lambda i: (i.resolved_at, i.id))
            self.resolved_by_key[key].remove(recent)
            self._change(recent, "status", "open")
            self._change(recent, "open_group_key", key)
            self._change(recent, "resolved_at", None)
            self._change(recent, "resolved_by", "")
            self._change(recent, "reopened_count", recent["reopened_count"] + 1)
            self._change(recent, "updated_at", now)
            self.open_by_key[key] = recent
            report.reopened.append(recent.id)
            self._audit(
                at=now,
                actor=alert.source,
                subject=f"incident:{recent.id}",
                action="incident.reopened",
                details={"alert": alert.name, "fingerprint": alert.fingerprint},
            )
            return recent
        # Written at once: its id names it in the report, the audit log and its alerts. Reopens
        # and resolutions before it are already written (at the end of their delivery), so the
        # one-open-incident-per-group constraint holds at every statement.
        values = {
            "group_key": key,
            "open_group_key": key,
            "status": "open",
            "title": incident_title(alert),
            "severity": alert.severity.value,
            "provider": alert.resource.provider.value,
            "resource_type": alert.resource.type or "",
            "resource_id": alert.resource.id or alert.resource.name or "",
            "opened_at": now,
            "updated_at": now,
        }
        new_id = self.conn.execute(_INSERT_INCIDENT, values).scalar_one()
        incident = IncidentRow(
            {
                **values,
                "id": int(new_id),
                "resolved_at": None,
                "resolved_by": "",
                "reopened_count": 0,
                "alert_events": 0,
                "flapping": False,
            },
            stored=True,
        )
        self.incidents[incident.id] = incident
        self.open_by_key[key] = incident
        self.members.setdefault(incident.id, {})
        report.opened.append(incident.id)
        self._audit(
            at=now,
            actor=alert.source,
            subject=f"incident:{incident.id}",
            action="incident.opened",
            details={"title": values["title"], "severity": values["severity"], "group_key": key},
        )
        return incident

    def _refresh_incident(
        self, incident: IncidentRow, now: datetime, actor: str, report: ApplyReport
    ) -> None:
        alerts = list(self.members.get(incident.id, {}).values())
        firing = [a for a in alerts if a.status == AlertStatus.FIRING.value]
        self._change(incident, "flapping", any(a.flapping for a in alerts))
        if firing:
            severity = max((_severity(a["severity"]) for a in firing), key=SEVERITY_RANK.__getitem__)
            self._change(incident, "severity", severity.value)
        if not firing and incident.status != "resolved":
            key = incident.open_group_key
            if key is not None and self.open_by_key.get(key) is incident:
                del self.open_by_key[key]
            self._change(incident, "status", "resolved")
            self._change(incident, "open_group_key", None)
            self._change(incident, "resolved_at", now)
            self._change(incident, "resolved_by", actor)
            self._change(incident, "updated_at", now)
            self.resolved_by_key.setdefault(incident.group_key, []).append(incident)
            report.resolved.append(incident.id)
            self._audit(
                at=now,
                actor=actor,
                subject=f"incident:{incident.id}",
                action="incident.resolved",
                details={"reason": "all alerts resolved"},
            )


def apply_alerts(
    session: Session,
    alerts: Sequence[NormalizedAlert],
    *,
    settings: IncidentSettings,
    muting: MutingContext,
    now: datetime,
    raw_event_id: int | None = None,
) -> ApplyReport:
    """Apply one delivery's alerts in the caller's transaction."""
    book = IncidentBook(session, settings=settings, muting=muting, deliveries=[alerts], now=now)
    return book.apply(alerts, now=now, raw_event_id=raw_event_id)
