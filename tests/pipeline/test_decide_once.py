"""An incident opening is decided once, even when its job runs again after a worker died between
requesting the run and recording the decision (or while that worker still runs, elsewhere)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource, Severity
from bot.incidents.apply import MutingContext, apply_alerts
from bot.jobs import ClaimedJob
from bot.reporting.base import NotificationLog
from bot.store.models import Incident, Notification, RunbookRun
from tests.fakes.moto_server import MotoServer
from tests.http.conftest import make_runtime
from tests.pipeline.test_flow_aws import ecs_service
from tests.scenario_data import now_utc

RULE = {
    "name": "scale out",
    "match": [{"name": "resource_type", "value": "ecs:service"}],
    "on_insufficient_data": "act",
    "approval": "never",
    "runbook": "aws.ecs.scale_service",
    "target": "aws:ecs:service/{resource.id}",
    "params": {"step": 1, "max": 6},
}


def test_a_run_already_requested_for_this_opening_is_not_requested_again(
    moto: MotoServer, data_dir: Path
) -> None:
    ecs_service(2)
    runtime = make_runtime(data_dir, rules=[RULE])
    try:
        now = now_utc()
        alert = NormalizedAlert(
            source="generic",
            fingerprint="cpu",
            name="HighCPU",
            status=AlertStatus.FIRING,
            severity=Severity.CRITICAL,
            resource=Resource(
                provider=Provider.AWS, type="ecs:service", id="prod/checkout", region="us-east-1"
            ),
        )
        with runtime.store.transaction() as session:
            report = apply_alerts(
                session, [alert], settings=runtime.settings.incidents, muting=MutingContext(), now=now
            )
        [incident_id] = report.opened
        opened = ClaimedJob(0, "incident.event", {"incident_id": incident_id, "event": "opened"}, 1)

        runtime.jobs.run_job(opened)  # decides: one run
        with runtime.store.sessions() as session:
            [first] = session.scalars(select(RunbookRun)).all()
        # The worker "died" before recording its decision: forget the record, run the job again.
        with runtime.store.transaction() as session:
            session.query(Notification).filter(Notification.key.like("decide:%")).delete()
        runtime.jobs.run_job(opened)

        with runtime.store.sessions() as session:
            runs = session.scalars(select(RunbookRun)).all()
            incident = session.get(Incident, incident_id)
        assert [r.id for r in runs] == [first.id]  # no second run for the same opening
        assert incident is not None and incident.decision
        log = NotificationLog(runtime.store, now_utc)
        assert log.sent(f"decide:incident:{incident_id}:0") == str(first.id)
    finally:
        runtime.store.dispose()
