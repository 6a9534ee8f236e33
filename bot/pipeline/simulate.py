""" "What would it do?": a payload taken through the pipeline's decisions without changing anything.

For each normalized alert: whether a silence or an inhibition mutes it, the incident it would join
(or reopen, or open), the rule that matches, the runbook and target, and the gate's decision with its
reason. The store is only read; nothing is written, queued or sent, and no network is used: the
metric is not fetched, so the detector's verdict is "not scored" unless a score is assumed
(`assumed_score`). Budgets, cooldowns and target locks are checked when a real run is requested,
not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.alerts.normalized import AlertStatus, NormalizedAlert
from bot.config.root import Settings
from bot.engine.gate import Anomaly, AnomalyStatus, Decision, GateInput, decide
from bot.engine.rules import match_rule
from bot.engine.templating import TemplateError
from bot.incidents.book_store import firing_alerts
from bot.incidents.grouping import group_key, incident_title
from bot.incidents.muting import ActiveSilence, inhibited_by, silenced_by
from bot.incidents.silences import active_silences, inhibition_rules
from bot.matching import Matcher
from bot.store.models import Alert, Incident


@dataclass(frozen=True, slots=True)
class AlertSimulation:
    """What the pipeline would do with one alert."""

    alert: NormalizedAlert
    muted: str | None  # "silenced by silence 4" | "inhibited by <fingerprint>" | None
    incident: dict[str, Any]  # {"action": "join"|"reopen"|"open"|"none", "id", "title", "group_key"}
    rule: dict[str, Any] | None  # {"index", "name"} of the first matching rule
    runbook: str | None = None
    target: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    decision: str = Decision.NO_ACTION.value
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "alert": self.alert.to_json_dict(),
            "muted": self.muted,
            "incident": self.incident,
            "rule": self.rule,
            "runbook": self.runbook,
            "target": self.target,
            "params": self.params,
            "decision": self.decision,
            "reason": self.reason,
        }


def _config_silences(settings: Settings, now: datetime) -> list[ActiveSilence]:
    """`[[silences]]` of the config (serve stores them at start; a config never served has them only here)."""
    return [
        ActiveSilence(
            -(i + 1), tuple(Matcher(m.name, m.op, m.value) for m in s.matchers), s.starts_at or now, s.ends_at
        )
        for i, s in enumerate(settings.silences)
    ]


def _incident_for(
    session: Session, settings: Settings, alert: NormalizedAlert, now: datetime
) -> dict[str, Any]:
    key = group_key(alert, list(settings.incidents.group_by))
    stored = session.scalars(
        select(Alert).where(Alert.source == alert.source, Alert.fingerprint == alert.fingerprint)
    ).first()
    if alert.status is AlertStatus.RESOLVED:
        incident_id = stored.incident_id if stored is not None else None
        return {"action": "resolve_alert" if incident_id else "none", "id": incident_id, "group_key": key}
    current = session.scalars(select(Incident).where(Incident.open_group_key == key)).first()
    if current is not None:
        return {"action": "join", "id": current.id, "title": current.title, "group_key": key}
    window = timedelta(minutes=settings.incidents.reopen_window_minutes)
    recent = session.scalars(
        select(Incident)
        .where(Incident.group_key == key, Incident.status == "resolved", Incident.resolved_at >= now - window)
        .order_by(Incident.resolved_at.desc(), Incident.id.desc())
    ).first()
    if recent is not None:
        return {"action": "reopen", "id": recent.id, "title": recent.title, "group_key": key}
    return {"action": "open", "id": None, "title": incident_title(alert), "group_key": key}


def _anomaly(settings: Settings, assumed_score: float | None) -> Anomaly:
    if assumed_score is None:
        return Anomaly(AnomalyStatus.NOT_SCORED)
    threshold = settings.detector.threshold
    return Anomaly(AnomalyStatus.OK, assumed_score, threshold, assumed_score >= threshold)


def simulate_alerts(
    session: Session,
    settings: Settings,
    alerts: list[NormalizedAlert],
    *,
    now: datetime,
    assumed_score: float | None = None,
) -> list[AlertSimulation]:
    """The pipeline's decisions for `alerts`, read from the store as it is at `now`."""
    from bot.runbook_kit.spec import REGISTRY

    silences = [*active_silences(session, now), *_config_silences(settings, now)]
    rules = inhibition_rules(settings)
    firing = firing_alerts(session) if rules else []
    out = []
    for alert in alerts:
        incident = _incident_for(session, settings, alert, now)
        silence = silenced_by(alert, silences, now)
        source = inhibited_by(alert, rules, firing) if silence is None else None
        muted = (
            f"silenced by silence {silence}" if silence is not None and silence > 0
            else "silenced by a [[silences]] entry of the config" if silence is not None
            else f"inhibited by firing alert {source}" if source is not None
            else None
        )  # fmt: skip
        base = AlertSimulation(alert=alert, muted=muted, incident=incident, rule=None)
        if alert.status is AlertStatus.RESOLVED:
            out.append(
                _with(
                    base, reason="a resolved alert: no decision (its incident resolves once no alert fires)"
                )
            )
            continue
        if muted is not None:
            out.append(_with(base, reason=f"no action: {muted} (stored, never dropped)"))
            continue
        if incident["action"] == "join":
            out.append(
                _with(
                    base,
                    reason=f"no new decision: joins open incident {incident['id']}, decided when it opened",
                )
            )
            continue
        try:
            match = match_rule(settings.rules, alert)
        except TemplateError as exc:
            out.append(_with(base, reason=f"no action: rule template failed: {exc}"))
            continue
        if match is None:
            out.append(_with(base, reason="no action: no rule matches this alert"))
            continue
        rule = {"index": match.index, "name": match.rule.name}
        spec = REGISTRY.get(match.rule.runbook)
        if spec is None:
            out.append(
                _with(
                    base,
                    rule=rule,
                    runbook=match.rule.runbook,
                    reason=f'no action: no runbook named "{match.rule.runbook}"',
                )
            )
            continue
        stored = session.scalars(
            select(Alert.flapping).where(Alert.source == alert.source, Alert.fingerprint == alert.fingerprint)
        ).first()
        gate = decide(
            GateInput(
                risk=spec.risk,
                policy=spec.approval,
                rule_approval=match.rule.approval,
                min_anomaly_score=match.rule.min_anomaly_score,
                on_insufficient_data=match.rule.on_insufficient_data,
                anomaly=_anomaly(settings, assumed_score),
                flapping=bool(stored),
            )
        )
        out.append(
            _with(
                base,
                rule=rule,
                runbook=spec.id,
                target=match.target,
                params=match.params,
                decision=gate.decision.value,
                reason=gate.reason,
            )
        )
    return out


def _with(base: AlertSimulation, **changes: Any) -> AlertSimulation:
    from dataclasses import replace

    return replace(base, **changes)
