"""The figures benchmarks/ha.py prints, read from the store and from the fakes' own records."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from benchmarks.ha_storm import Storm
from benchmarks.ha_world import CHANNEL, SWEEP, Fakes
from bot.store.db import Store
from bot.store.models import Alert, AuditRecord, Incident, RawEvent, RunbookRun, SweepRun
from tests.fakes.slack import FakeMessage


@dataclass
class Figure:
    name: str
    must_be: str
    value: str
    ok: bool


@dataclass
class Figures:
    rows: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def add(self, name: str, must_be: str, value: str, ok: bool) -> None:
        self.rows.append(Figure(name, must_be, value, ok))


def _spread(counts: Counter[object] | dict[object, int]) -> str:
    values = list(counts.values())
    return f"min {min(values)}, max {max(values)} over {len(values)}" if values else "none"


def collect(
    store: Store,
    fakes: Fakes,
    services: list[str],
    storm: Storm,
    *,
    drain_seconds: float | None,
    storm_seconds: float,
    kills: list[str],
    rolling_seconds: float,
) -> Figures:
    figures = Figures()
    with store.sessions() as session:
        bodies = [json.loads(b) for b in session.scalars(select(RawEvent.body))]
        incidents = list(session.scalars(select(Incident)))
        alerts = list(session.scalars(select(Alert)))
        runs = list(session.scalars(select(RunbookRun)))
        escalated = list(session.scalars(select(AuditRecord).where(AuditRecord.action == "run.escalated")))
        ticks = Counter(session.scalars(select(SweepRun.tick).where(SweepRun.sweep == SWEEP)))

    stored = {str(b.get("id")) for b in bodies}
    lost = storm.accepted - stored
    figures.add(
        "acknowledged vs stored",
        "0 lost",
        f"{len(storm.accepted)} acknowledged, {len(stored)} stored, {len(lost)} lost "
        f"({storm.ha_duplicates} HA duplicates sent)",
        not lost,
    )
    per_group = Counter(i.group_key for i in incidents)
    figures.add("incidents per group key", "exactly 1", _spread(per_group), set(per_group.values()) <= {1})

    per_target = Counter((r.incident_id, r.target) for r in runs)
    figures.add(
        "runs per target per incident", "≤ 1", _spread(per_target), max(per_target.values(), default=0) <= 1
    )

    scale_outs = fakes.scale_outs()  # what reached moto, per service
    acted = Counter(r.target.rsplit("/", 1)[-1] for r in runs if r.acted_at is not None)
    off = {
        name: (scale_outs[name], acted[name])
        for name in set(acted) | set(scale_outs)
        if scale_outs[name] != acted[name]
    }
    figures.add(
        "executed actions per approved run",
        "exactly 1",
        f"{sum(scale_outs.values())} UpdateService scale-outs reached moto for {sum(acted.values())} runs "
        f"that acted ({len(runs)} runs in all)" + (f"; off (calls, runs): {off}" if off else ""),
        not off,
    )

    # Circuit-breaker notices share the channel; they are told apart by their log key (a message
    # without one counts as a parent, so a post that lost its metadata cannot hide a repeat).
    parents = [m for m in fakes.slack.messages(CHANNEL) if not _circuit_notice(m)]
    with_parent = [i for i in incidents if i.slack_ts]
    duplicates = len(parents) - len({i.slack_ts for i in with_parent})
    figures.add(
        "Slack parent messages per incident",
        "exactly 1",
        f"{len(parents)} parents for {len(incidents)} incidents ({duplicates} extra, "
        f"{len(incidents) - len(with_parent)} without)",
        duplicates == 0 and len(with_parent) == len(incidents),
    )

    by_fingerprint = Counter(str(b.get("fingerprint")) for b in bodies)
    short_alerts = [a.fingerprint for a in alerts if a.deliveries != by_fingerprint[a.fingerprint]]
    member_deliveries = Counter[int]()
    for a in alerts:
        if a.incident_id is not None:
            member_deliveries[a.incident_id] += a.deliveries
    short_incidents = [i.id for i in incidents if i.alert_events != member_deliveries[i.id]]
    figures.add(
        "lost updates (alert and incident counts equal what the stored bodies imply)",
        "0",
        f"{len(short_alerts)} alerts, {len(short_incidents)} incidents off",
        not short_alerts and not short_incidents,
    )

    tickets = Counter(
        label
        for issue in fakes.jira.issues.values()
        for label in issue.fields.get("labels", [])
        if label.startswith("conductor-incident-")
    )
    figures.add("Jira tickets per incident", "≤ 1", _spread(tickets), max(tickets.values(), default=0) <= 1)

    triggers = Counter(
        str(e.get("dedup_key")) for e in fakes.pagerduty.events if e.get("event_action") == "trigger"
    )
    escalations = Counter(f"conductor-incident-{e.details.get('incident_id')}" for e in escalated)
    paging = {key: (triggers.get(key, 0), n) for key, n in escalations.items()}
    wrong = {key: v for key, v in paging.items() if v[0] != v[1]}
    figures.add(
        "PagerDuty triggers per escalation",
        "1",
        f"{sum(triggers.values())} triggers for {sum(escalations.values())} escalations"
        + (f"; off: {wrong}" if wrong else ""),
        not wrong and bool(escalations),
    )

    if ticks:
        interval = timedelta(seconds=2)
        span = int((max(ticks) - min(ticks)) / interval) + 1
        missed = span - len(ticks)
        twice = sum(1 for n in ticks.values() if n > 1)
        figures.add(
            "sweep runs per tick",
            "exactly 1",
            f"{len(ticks)} ticks run, {twice} twice, {missed} of {span} not run (lease handovers)",
            twice == 0,
        )
        if missed:
            figures.notes.append(
                "ticks not run fall in the gaps while the lease moves after its holder was killed "
                "(lease 3 s); a tick is never run twice"
            )
    else:
        figures.add("sweep runs per tick", "exactly 1", "no ticks ran", False)

    figures.notes.append(f"kills: {', '.join(kills) or 'none'}")
    figures.notes.append(f"storm {storm_seconds:.1f}s, rolling restart {rolling_seconds:.1f}s")
    figures.notes.append(
        f"time to drain after the storm: {drain_seconds:.1f}s"
        if drain_seconds is not None
        else "did not drain"
    )
    if drain_seconds is None:
        figures.add("drained", "yes", "no (timeout)", False)
    return figures


def print_table(figures: Figures) -> None:
    print("| figure | must be | measured | ok |\n| --- | --- | --- | --- |")
    for row in figures.rows:
        print(f"| {row.name} | {row.must_be} | {row.value} | {'yes' if row.ok else 'NO'} |")
    for note in figures.notes:
        print(f"- {note}")


def _circuit_notice(message: FakeMessage) -> bool:
    payload = (message.metadata or {}).get("event_payload") or {}
    return str(payload.get("key", "")).startswith("slack:circuit:")
