"""The KPIs from stored incidents, alerts, runs and approvals (SQLite and PostgreSQL): each figure
against a hand-computed answer, the service filter, and the window's edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.kpis.compute import compute_kpis
from bot.kpis.stats import Durations
from bot.store.db import Store
from bot.store.models import Alert, Approval, Incident, RunbookRun

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def add_incident(
    session: Any,
    *,
    opened: datetime,
    alerts: list[tuple[datetime | None, dict[str, str], str]],
    acknowledged: datetime | None = None,
    resolved: datetime | None = None,
    resolved_by: str = "",
    flapping: bool = False,
) -> Incident:
    incident = Incident(
        group_key=f"g{opened.timestamp()}",
        open_group_key=None if resolved else f"g{opened.timestamp()}",
        status="resolved" if resolved else ("acknowledged" if acknowledged else "open"),
        title="t",
        opened_at=opened,
        updated_at=opened,
        acknowledged_at=acknowledged,
        acknowledged_by="alice" if acknowledged else "",
        resolved_at=resolved,
        resolved_by=resolved_by,
        flapping=flapping,
    )
    session.add(incident)
    session.flush()
    for n, (starts, labels, muted) in enumerate(alerts):
        session.add(
            Alert(
                source="generic",
                fingerprint=f"{incident.id}-{n}",
                name="a",
                status="firing",
                severity="error",
                labels=labels,
                starts_at=starts,
                first_seen=opened,
                last_seen=opened,
                muted_reason=muted,
                incident_id=incident.id,
            )
        )
    return incident


def add_run(
    session: Any,
    incident: Incident | None,
    *,
    runbook: str,
    status: str,
    created: datetime,
    started: datetime | None = None,
    requested_by: str = "rule:r",
    reason: str = "",
    result: dict[str, Any] | None = None,
    target: str = "aws:ecs:service/c/s",
) -> RunbookRun:
    run = RunbookRun(
        runbook_id=runbook,
        target=target,
        incident_id=incident.id if incident else None,
        status=status,
        reason=reason,
        requested_by=requested_by,
        created_at=created,
        updated_at=created,
        started_at=started,
        result=result or {},
    )
    session.add(run)
    session.flush()
    return run


def seed(store: Store) -> None:
    with store.transaction() as s:
        # 1: fixed by a rule's run 4 min after opening, detected 2 min after the alert began
        one = add_incident(
            s,
            opened=T0,
            alerts=[(T0 - 2 * MIN, {"service": "api"}, ""), (T0 - MIN, {"service": "api"}, "")],
            resolved=T0 + 10 * MIN,
            resolved_by="run:1",
        )
        add_run(
            s,
            one,
            runbook="aws.ecs.scale_service",
            status="succeeded",
            created=T0 + MIN,
            started=T0 + 4 * MIN,
        )
        # 2: a person acknowledged after 6 min, resolved after 60; its run was ineffective, rolled back
        two = add_incident(
            s,
            opened=T0 + 60 * MIN,
            alerts=[(T0 + 50 * MIN, {"service": "web"}, "")],
            acknowledged=T0 + 66 * MIN,
            resolved=T0 + 120 * MIN,
            resolved_by="cli:alice",
            flapping=True,
        )
        add_run(
            s,
            two,
            runbook="aws.ecs.scale_service",
            status="ineffective",
            created=T0 + 61 * MIN,
            started=T0 + 70 * MIN,
            result={"rolled_back": "changed"},
            target="aws:ecs:service/c/w",
        )
        # 3: still open, no acknowledgement; a run was rejected (budget) and one waits for approval
        three = add_incident(s, opened=T0 + 200 * MIN, alerts=[(None, {"service": "api"}, "silenced:4")])
        add_run(
            s,
            three,
            runbook="aws.ecs.scale_service",
            status="rejected",
            created=T0 + 201 * MIN,
            reason="budget exhausted: 3 runs in 1h; try later",
            target="aws:ecs:service/c/x",
        )
        waiting = add_run(
            s, three, runbook="aws.ec2.reboot_instance", status="awaiting_approval", created=T0 + 202 * MIN,
            target="aws:ec2:instance/i-1",
        )  # fmt: skip
        s.add(
            Approval(
                run_id=waiting.id,
                status="pending",
                requested_by="rule:r",
                created_at=T0 + 202 * MIN,
                expires_at=T0 + 232 * MIN,
            )
        )
        expired = add_run(
            s, None, runbook="aws.ec2.reboot_instance", status="expired", created=T0 + 5 * MIN,
            requested_by="cli:bob", target="aws:ec2:instance/i-2",
        )  # fmt: skip
        s.add(
            Approval(
                run_id=expired.id,
                status="expired",
                requested_by="cli:bob",
                created_at=T0 + 5 * MIN,
                expires_at=T0 + 35 * MIN,
            )
        )
        approved = add_run(
            s, None, runbook="aws.ec2.reboot_instance", status="succeeded", created=T0 + 6 * MIN,
            started=T0 + 9 * MIN, requested_by="cli:bob", target="aws:ec2:instance/i-3",
        )  # fmt: skip
        s.add(
            Approval(
                run_id=approved.id, status="approved", requested_by="cli:bob", created_at=T0 + 6 * MIN,
                expires_at=T0 + 36 * MIN, decided_at=T0 + 9 * MIN,
            )
        )  # fmt: skip
        # outside the window: opened a day before
        add_incident(s, opened=T0 - timedelta(days=1), alerts=[(None, {}, "")])


def test_every_figure_of_a_window(store: Store) -> None:
    seed(store)
    with store.sessions() as session:
        kpis = compute_kpis(session, since=T0, until=T0 + timedelta(days=1))
    assert (kpis.incidents, kpis.resolved) == (3, 2)
    # MTTD: 2 min (earliest alert of #1), 10 min (#2), 0 (#3 has no start: first_seen = opening)
    assert kpis.mttd == Durations(3, 240.0, 120.0, 600.0)
    # MTTA: #1 by its run starting (4 min), #2 by alice (6 min, before its run started at 10 min)
    assert kpis.mtta == Durations(2, 300.0, 300.0, 360.0)
    assert kpis.mttr == Durations(2, 2100.0, 2100.0, 3600.0)
    assert (kpis.resolved_automatically, kpis.automatic_resolution_rate) == (1, 0.5)
    effectiveness = {r.runbook: r.to_json() for r in kpis.runbooks}
    assert effectiveness["aws.ecs.scale_service"] == {
        "runbook": "aws.ecs.scale_service",
        "runs": 3,
        "outcomes": {"succeeded": 1, "rolled_back": 1, "rejected": 1},
        "rejected_by_reason": {"budget exhausted: 3 runs in 1h": 1},
        "in_flight": 0,
        "success_rate": 0.3333,
    }
    assert effectiveness["aws.ec2.reboot_instance"]["outcomes"] == {"succeeded": 1, "expired": 1}
    assert effectiveness["aws.ec2.reboot_instance"]["in_flight"] == 1
    assert kpis.approvals == {"approved": 1, "denied": 0, "expired": 1, "pending": 1}
    assert kpis.approval_decision == Durations(1, 180.0, 180.0, 180.0)
    noise = kpis.to_json()["noise"]
    assert noise == {
        "alerts": 4,
        "alerts_per_incident": round(4 / 3, 3),
        "flapping_share": round(1 / 3, 4),
        "silenced_share": 0.25,
        "inhibited_share": 0.0,
    }
    assert kpis.opened_per_day == {"2026-11-01": 3}


def test_one_service(store: Store) -> None:
    seed(store)
    with store.sessions() as session:
        kpis = compute_kpis(session, since=T0, until=T0 + timedelta(days=1), service="api")
    assert (kpis.incidents, kpis.resolved, kpis.resolved_automatically) == (2, 1, 1)
    assert kpis.mttr == Durations(1, 600.0, 600.0, 600.0)
    # runs of other services' incidents and manual runs without an incident are left out
    assert [(r.runbook, r.runs) for r in kpis.runbooks] == [
        ("aws.ec2.reboot_instance", 1),
        ("aws.ecs.scale_service", 2),
    ]
    assert kpis.approvals == {"approved": 0, "denied": 0, "expired": 0, "pending": 1}


def test_an_empty_window_has_no_made_up_numbers(store: Store) -> None:
    with store.sessions() as session:
        kpis = compute_kpis(session, since=T0, until=T0 + timedelta(days=1))
    data = kpis.to_json()
    assert data["mttr"] == {"count": 0, "mean_seconds": None, "median_seconds": None, "p90_seconds": None}
    assert data["automatic_resolution"]["rate"] is None
    assert data["noise"]["alerts_per_incident"] is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([], Durations(0, None, None, None), id="none"),
        pytest.param([5.0], Durations(1, 5.0, 5.0, 5.0), id="one"),
        pytest.param([float(v) for v in range(1, 11)], Durations(10, 5.5, 5.5, 9.0), id="ten"),
    ],
)
def test_duration_summaries(values: list[float], expected: Durations) -> None:
    assert Durations.of(values) == expected
