"""Apply normalized alerts to the store: upsert, mute, detect flapping, group into incidents.

Runs inside the worker's transaction that also marks the raw event processed, so a crash
either applies a delivery completely or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Severity
from bot.audit import audit
from bot.config.settings import IncidentSettings
from bot.incidents.flapping import record_change
from bot.incidents.grouping import group_key, incident_title
from bot.incidents.muting import ActiveSilence, FiringAlert, InhibitionRule, inhibited_by, silenced_by
from bot.jobs import enqueue
from bot.store.models import Alert, Incident

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


def _severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        return Severity.UNKNOWN


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


def _mute_reason(
    session: Session, alert: NormalizedAlert, muting: MutingContext, now: datetime, cache: dict[str, object]
) -> str:
    if alert.status is not AlertStatus.FIRING:
        return ""
    silence_id = silenced_by(alert, muting.silences, now)
    if silence_id is not None:
        return f"silenced:{silence_id}"
    if muting.inhibit_rules:
        if "firing" not in cache:
            cache["firing"] = _firing_alerts(session)
        firing = cache["firing"]
        assert isinstance(firing, list)
        source = inhibited_by(alert, muting.inhibit_rules, firing)
        if source is not None:
            return f"inhibited:{source}"
    return ""


def _open_incident(
    session: Session, alert: NormalizedAlert, settings: IncidentSettings, now: datetime, report: ApplyReport
) -> Incident:
    key = group_key(alert, settings.group_by)
    incident = session.scalars(select(Incident).where(Incident.open_group_key == key)).first()
    if incident is not None:
        return incident
    window = timedelta(minutes=settings.reopen_window_minutes)
    recent = session.scalars(
        select(Incident)
        .where(Incident.group_key == key, Incident.status == "resolved", Incident.resolved_at >= now - window)
        .order_by(Incident.resolved_at.desc())
        .limit(1)
    ).first()
    if recent is not None:
        recent.status = "open"
        recent.open_group_key = key
        recent.resolved_at = None
        recent.resolved_by = ""
        recent.reopened_count += 1
        recent.updated_at = now
        report.reopened.append(recent.id)
        audit(
            session,
            at=now,
            actor=alert.source,
            subject=f"incident:{recent.id}",
            action="incident.reopened",
            details={"alert": alert.name, "fingerprint": alert.fingerprint},
        )
        return recent
    incident = Incident(
        group_key=key,
        open_group_key=key,
        status="open",
        title=incident_title(alert),
        severity=alert.severity.value,
        provider=alert.resource.provider.value,
        resource_type=alert.resource.type or "",
        resource_id=alert.resource.id or alert.resource.name or "",
        opened_at=now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    report.opened.append(incident.id)
    audit(
        session,
        at=now,
        actor=alert.source,
        subject=f"incident:{incident.id}",
        action="incident.opened",
        details={"title": incident.title, "severity": incident.severity, "group_key": key},
    )
    return incident


def _upsert_alert(
    session: Session,
    alert: NormalizedAlert,
    *,
    now: datetime,
    raw_event_id: int | None,
    settings: IncidentSettings,
    report: ApplyReport,
) -> tuple[Alert, bool]:
    """Returns the stored alert and whether its status changed (or it is new)."""
    row = session.scalars(
        select(Alert).where(Alert.source == alert.source, Alert.fingerprint == alert.fingerprint)
    ).first()
    data = alert.model_dump(mode="json")
    if row is None:
        row = Alert(
            source=alert.source,
            fingerprint=alert.fingerprint,
            first_seen=now,
            status_changes=[now.isoformat()],
            deliveries=1,
            muted_reason="",
            flapping=False,
        )
        session.add(row)
        changed = True
        report.alerts_new += 1
    else:
        changed = row.status != alert.status.value
        row.deliveries += 1
        report.alerts_repeated += 1
        if changed:
            previous = [datetime.fromisoformat(t) for t in (row.status_changes or [])]
            state = record_change(
                previous,
                now,
                threshold=settings.flap_changes,
                window=timedelta(minutes=settings.flap_window_minutes),
            )
            row.status_changes = [t.isoformat() for t in state.changes]
            if state.flapping and not row.flapping:
                audit(
                    session,
                    at=now,
                    actor="system",
                    subject=f"alert:{alert.source}:{alert.fingerprint}",
                    action="alert.flapping",
                    details={"changes": len(state.changes)},
                )
            row.flapping = state.flapping
    row.name = alert.name
    row.status = alert.status.value
    row.severity = alert.severity.value
    row.summary = alert.summary
    row.description = alert.description
    row.resource = data["resource"]
    row.metric = data["metric"]
    row.labels = alert.labels
    row.annotations = alert.annotations
    row.links = alert.links
    row.starts_at = alert.starts_at
    row.ends_at = alert.ends_at
    row.last_seen = now
    row.last_raw_event_id = raw_event_id
    return row, changed


def _refresh_incident(
    session: Session, incident: Incident, now: datetime, actor: str, report: ApplyReport
) -> None:
    alerts = session.scalars(select(Alert).where(Alert.incident_id == incident.id)).all()
    firing = [a for a in alerts if a.status == AlertStatus.FIRING.value]
    incident.flapping = any(a.flapping for a in alerts)
    if firing:
        incident.severity = max((_severity(a.severity) for a in firing), key=SEVERITY_RANK.__getitem__).value
    if not firing and incident.status != "resolved":
        incident.status = "resolved"
        incident.open_group_key = None
        incident.resolved_at = now
        incident.resolved_by = actor
        incident.updated_at = now
        report.resolved.append(incident.id)
        audit(
            session,
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
    report = ApplyReport()
    cache: dict[str, object] = {}
    touched: dict[int, Incident] = {}
    for alert in alerts:
        row, _changed = _upsert_alert(
            session, alert, now=now, raw_event_id=raw_event_id, settings=settings, report=report
        )
        audit(
            session,
            at=now,
            actor=alert.source,
            subject=f"alert:{alert.source}:{alert.fingerprint}",
            action="alert.received",
            details={"name": alert.name, "status": alert.status.value, "severity": alert.severity.value},
        )
        row.muted_reason = _mute_reason(session, alert, muting, now, cache)
        if row.muted_reason:
            report.alerts_muted += 1
            audit(
                session,
                at=now,
                actor="system",
                subject=f"alert:{alert.source}:{alert.fingerprint}",
                action="alert.muted",
                details={"reason": row.muted_reason},
            )
            continue
        incident: Incident | None = None
        if alert.status is AlertStatus.FIRING:
            current = session.get(Incident, row.incident_id) if row.incident_id else None
            incident = current if current is not None and current.status != "resolved" else None
            if incident is None:
                incident = _open_incident(session, alert, settings, now, report)
            row.incident_id = incident.id
            incident.alert_events += 1
            incident.updated_at = now
            if incident.id not in report.opened and incident.id not in report.reopened:
                report.updated.append(incident.id)
        elif row.incident_id is not None:
            incident = session.get(Incident, row.incident_id)
        if incident is not None:
            session.flush()
            touched[incident.id] = incident
    for incident in touched.values():
        _refresh_incident(session, incident, now, "system", report)
    for event, ids in (
        ("opened", report.opened),
        ("reopened", report.reopened),
        ("updated", report.updated),
        ("resolved", report.resolved),
    ):
        for incident_id in dict.fromkeys(ids):
            enqueue(
                session, kind="incident.event", payload={"incident_id": incident_id, "event": event}, now=now
            )
    return report
