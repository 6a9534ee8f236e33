"""Apply normalized alerts to the store: upsert, mute, detect flapping, group into incidents.

Stage: dedupe, mute, group (`IncidentBook.dedupe`, `.mute`, `.group`, in that order per alert).
Takes: one delivery's `NormalizedAlert`s.
Gives: `ApplyReport` — alerts stored (new, repeated, muted with their `MuteReason`), incidents
  opened, reopened, updated and resolved, and an `incident.event` job for each.

Runs inside the worker's transaction that also marks the raw event processed, so a crash
either applies a delivery completely or not at all.

`IncidentBook` applies a batch of deliveries one after another in memory, on the rows
`bot.incidents.book_store.LoadedIncidents` loaded up front; each delivery is written before the
next one starts (the load and write points are all in `book_store`). `apply_alerts` is the
one-delivery case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Severity
from bot.config.settings import IncidentSettings
from bot.incidents.book_store import LoadedIncidents, firing_alerts
from bot.incidents.flapping import record_change
from bot.incidents.grouping import group_key, incident_title
from bot.incidents.muting import (
    ActiveSilence,
    FiringAlert,
    InhibitionRule,
    MuteReason,
    inhibited_by,
    silenced_by,
)
from bot.incidents.tracked_rows import AlertRow, IncidentRow
from bot.policies.freezes import ActiveFreeze, in_maintenance

SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.ERROR: 3,
    Severity.WARNING: 2,
    Severity.INFO: 1,
    Severity.UNKNOWN: 0,
}


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


def _severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        return Severity.UNKNOWN


class IncidentBook(LoadedIncidents):
    """The alerts and incidents a batch of deliveries touches, with the rules that change them."""

    def __init__(
        self,
        session: Session,
        *,
        settings: IncidentSettings,
        muting: MutingContext,
        deliveries: Sequence[Sequence[NormalizedAlert]],
        now: datetime,
    ) -> None:
        self.muting = muting
        self._firing: list[FiringAlert] | None = None  # for inhibition, read once per delivery
        self._flap_window = timedelta(minutes=settings.flap_window_minutes)
        super().__init__(session, settings=settings, deliveries=deliveries, now=now)

    # -- applying --------------------------------------------------------------------------

    def apply(
        self, alerts: Sequence[NormalizedAlert], *, now: datetime, raw_event_id: int | None
    ) -> ApplyReport:
        """Apply one delivery; written on return, so the next delivery sees it in the database too."""
        report = ApplyReport()
        self._firing = None
        touched: dict[int, IncidentRow] = {}
        for alert in alerts:  # the stages of bot.pipeline.stages.PIPELINE, in its order
            row = self.dedupe(alert, now=now, raw_event_id=raw_event_id, report=report)
            if self.mute(alert, row, now=now, report=report) is not None:
                continue
            incident = self.group(alert, row, now=now, report=report)
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
                self.enqueue_incident_event(payload, now)
        self.flush()
        return report

    def dedupe(
        self, alert: NormalizedAlert, *, now: datetime, raw_event_id: int | None, report: ApplyReport
    ) -> AlertRow:
        """Stage `dedupe`: the alert's row, keyed by (source, fingerprint) — new, or a repeat whose
        status changes are counted for flapping."""
        row = self._upsert_alert(alert, now=now, raw_event_id=raw_event_id, report=report)
        self.audit(
            at=now,
            actor=alert.source,
            subject=f"alert:{alert.source}:{alert.fingerprint}",
            action="alert.received",
            details={"name": alert.name, "status": alert.status.value, "severity": alert.severity.value},
        )
        return row

    def mute(
        self, alert: NormalizedAlert, row: AlertRow, *, now: datetime, report: ApplyReport
    ) -> str | None:
        """Stage `mute`: why a firing alert is muted (`MuteReason`'s sentence), or None. A muted
        alert is stored and audited, and goes no further."""
        reason = ""
        if alert.status is AlertStatus.FIRING:
            silence_id = silenced_by(alert, self.muting.silences, now)
            window = in_maintenance(alert, self.muting.maintenance)
            if silence_id is not None:
                reason = MuteReason.SILENCED.say(by=silence_id)
            elif window is not None:
                reason = MuteReason.MAINTENANCE.say(by=window.id)
            elif self.muting.inhibit_rules:
                if self._firing is None:
                    self.write_rows()  # the query must see this delivery's earlier alerts (and this one)
                    self._firing = firing_alerts(self.session)  # reads what write_rows wrote
                source = inhibited_by(alert, self.muting.inhibit_rules, self._firing)
                if source is not None:
                    reason = MuteReason.INHIBITED.say(by=source)
        row.set("muted_reason", reason)
        if not reason:
            return None
        report.alerts_muted += 1
        self.audit(
            at=now,
            actor="system",
            subject=f"alert:{alert.source}:{alert.fingerprint}",
            action="alert.muted",
            details={"reason": reason},
        )
        return reason

    def group(
        self, alert: NormalizedAlert, row: AlertRow, *, now: datetime, report: ApplyReport
    ) -> IncidentRow | None:
        """Stage `group`: the incident an unmuted alert belongs to — a firing alert joins (or opens,
        or reopens) the open incident of its group key; a resolved one reports to its incident."""
        if alert.status is not AlertStatus.FIRING:
            return self.incident(row.incident_id) if row.incident_id is not None else None
        current = self.incident(row.incident_id) if row.incident_id else None
        incident = current if current is not None and current.status != "resolved" else None
        if incident is None:
            incident = self._open_incident(alert, now, report)
        self._attach(row, incident)
        self.change(incident, "alert_events", incident["alert_events"] + 1)
        self.change(incident, "updated_at", now)
        if incident.id not in report.opened and incident.id not in report.reopened:
            report.updated.append(incident.id)
        return incident

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
                    self.audit(
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
        self.touch_alert(row)
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
        window_start = now - self.window
        candidates = [
            i
            for i in self.resolved_by_key.get(key, [])
            if i.status == "resolved" and i.resolved_at is not None and i.resolved_at >= window_start
        ]
        if candidates:
            recent = max(candidates, key=lambda i: (i.resolved_at, i.id))
            self.resolved_by_key[key].remove(recent)
            self.change(recent, "status", "open")
            self.change(recent, "open_group_key", key)
            self.change(recent, "resolved_at", None)
            self.change(recent, "resolved_by", "")
            self.change(recent, "reopened_count", recent["reopened_count"] + 1)
            self.change(recent, "updated_at", now)
            self.open_by_key[key] = recent
            report.reopened.append(recent.id)
            self.audit(
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
        new_id = self.insert_incident(values)
        incident = IncidentRow(
            {
                **values,
                "id": new_id,
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
        self.audit(
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
        self.change(incident, "flapping", any(a.flapping for a in alerts))
        if firing:
            severity = max((_severity(a["severity"]) for a in firing), key=SEVERITY_RANK.__getitem__)
            self.change(incident, "severity", severity.value)
        if not firing and incident.status != "resolved":
            key = incident.open_group_key
            if key is not None and self.open_by_key.get(key) is incident:
                del self.open_by_key[key]
            self.change(incident, "status", "resolved")
            self.change(incident, "open_group_key", None)
            self.change(incident, "resolved_at", now)
            self.change(incident, "resolved_by", actor)
            self.change(incident, "updated_at", now)
            self.resolved_by_key.setdefault(incident.group_key, []).append(incident)
            report.resolved.append(incident.id)
            self.audit(
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
