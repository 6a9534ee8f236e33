"""The composition root: builds every long-lived part from settings, in one place."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.access.grants import Grants
from bot.access.guard import Guard
from bot.audit import audit
from bot.backlog import backlog_ages
from bot.claims import release_dead_claims, release_own_claims, worker_name
from bot.clock import utc_now
from bot.config.root import Settings
from bot.engine.deps import EngineDeps
from bot.engine.engine import Engine
from bot.engine.services import build_services, integration_status
from bot.engine.states import FINAL
from bot.incidents.apply import MutingContext
from bot.incidents.silences import active_silences, inhibition_rules, sync_config_silences
from bot.ingest.committer import GroupCommitter
from bot.ingest.inline import InlineIntake
from bot.ingest.intake import build_intake
from bot.ingest.intake_process import ProcessIntake
from bot.ingest.parsing import make_parse
from bot.ingest.processor import RawEventProcessor
from bot.ingest.wire import WebhookIntakeService
from bot.job_runner import JobRunner
from bot.jobs import pending_count
from bot.kpis.observe import KpiObserver
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.pipeline.detect import DetectStage
from bot.pipeline.fanout import Fanout
from bot.pipeline.incident_flow import IncidentFlow
from bot.pipeline.metric_history import MetricHistory
from bot.policies.freezes import active_freezes, sync_config_freezes
from bot.reporting.jira import JiraReporter
from bot.reporting.pagerduty import PagerDutyReporter
from bot.runbook_kit.loader import load_builtin_runbooks, load_runbook_dirs
from bot.scheduler.service import SchedulerService, start_scheduler
from bot.store import migrate
from bot.store.db import Store
from bot.store.models import RawEvent
from bot.sweeps.runner import SweepContext
from bot.sweeps.sources import SweepSources
from bot.workers import BackgroundService, NamedTask, WorkerPool
from detectors.api import AnomalyDetector
from integrations.aws.sns_subscription import confirm_subscription as confirm_sns_subscription
from integrations.jira.client import JiraTickets
from integrations.pagerduty.events import PagerDutyEvents

log = get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    metrics: Metrics
    clock: Callable[[], datetime]
    intake: WebhookIntakeService
    processor: RawEventProcessor
    jobs: JobRunner
    engine: Engine
    identity: str
    grants: Grants  # who callers are and which role they hold ([permissions], [approvals])
    guard: Guard  # the authorization decision, applied and audited
    fanout: Fanout = field(default_factory=lambda: Fanout([]))
    workers: WorkerPool | None = None
    # Long-lived parts started after the workers and stopped before them (scheduler, Slack Socket Mode).
    services: list[BackgroundService] = field(default_factory=list)
    # Extra HTTP routes (the Slack events endpoint); create_app calls each with the app.
    http_extensions: list[Callable[[Any, Runtime], None]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    scheduler: SchedulerService | None = None  # running sweeps (see start_background)
    # Set on SIGTERM (time.monotonic()): /readyz answers 503 and shutdown counts its grace from it.
    draining_since: float | None = None

    def begin_drain(self) -> None:
        """SIGTERM arrived: stop looking ready, so the load balancer sends elsewhere."""
        if self.draining_since is None:
            self.draining_since = time.monotonic()
            log.info("draining: no longer ready; finishing what is in flight")

    def muting(self, session: Session, now: datetime) -> MutingContext:
        return MutingContext(
            silences=active_silences(session, now),
            inhibit_rules=inhibition_rules(self.settings),
            maintenance=[f for f in active_freezes(session, now) if f.maintenance],
        )

    def store_ready(self) -> tuple[bool, str]:
        try:
            with self.store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            return False, f"store unreachable: {exc.__class__.__name__}"
        if not migrate.is_current(self.store):
            return False, "migrations not current (run `conductor db upgrade`)"
        return True, "ok"

    def start_background(self) -> None:
        released = release_dead_claims(self.store)
        if released:
            log.warning("released work claimed by dead processes on this host", count=released)
        reconciled = self.engine.executor.reconcile_interrupted()
        if reconciled:
            log.warning("reconciled runs interrupted by a crash", count=reconciled)
        self.intake.start()
        self.workers = WorkerPool(
            [NamedTask("raw-events", self.processor.run_once), NamedTask("jobs", self.jobs.run_once)],
            threads=self.settings.workers.threads,
            poll_interval=self.settings.workers.poll_interval_seconds,
            identity=self.identity,
        )
        self.workers.start()
        for service in self.services:
            service.start()
        # Sweeps; only the replica holding the scheduler lease runs them.
        self.scheduler = start_scheduler(self.settings, self.sweep_context)

    def sweep_context(self) -> SweepContext:
        return SweepContext(
            self.settings, self.store, SweepSources(self.settings), clock=self.clock, holder=self.identity
        )

    def stop_background(self, grace: float) -> bool:
        """Stop the scheduler (its lease released), the intake (after answering what it read) and
        the workers (after their current item), all within `grace` seconds of the SIGTERM; then
        give back the claims this process still holds (docs/ha.md, rolling restarts)."""
        deadline = (self.draining_since or time.monotonic()) + grace

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        if self.scheduler is not None:
            self.scheduler.stop(left())
            self.scheduler = None
        for service in reversed(self.services):
            service.stop()
        self.intake.stop()
        stopped = True
        if self.workers is not None:
            stopped = self.workers.stop(left())
        # Raw events are always safe to give back (a worker still busy with one finds it no longer
        # claimed by it and rolls back); jobs, notification claims and runs only once no worker runs.
        try:
            released = release_own_claims(self.store, self.identity, raw_events_only=not stopped)
        except Exception as exc:  # noqa: BLE001 - they expire with their lease instead
            log.warning("could not release claims; they expire with their lease", error=str(exc))
        else:
            log.info("claims released", count=released, workers_stopped=stopped)
        return stopped

    def let_requests_commit(self) -> None:
        """Background work between two of its transactions: webhooks in flight go first."""
        if self.workers is not None:
            self.workers.let_requests_commit()

    def pending_raw_events(self) -> int:
        from sqlalchemy import func, select

        with self.store.sessions() as session:
            return int(
                session.scalar(select(func.count()).select_from(RawEvent).where(RawEvent.status == "pending"))
                or 0
            )


def _count_run_outcomes(metrics: Metrics) -> Callable[[Session, int, str], None]:
    final = {status.value for status in FINAL}

    def count(_session: Session, _run_id: int, event: str) -> None:
        if event in final:
            metrics.runs.labels(outcome=event).inc()

    return count


def attach_pipeline(runtime: Runtime) -> None:
    """Detect -> rules -> gate for new incidents, and the Jira and PagerDuty reporters."""
    settings = runtime.settings
    history = MetricHistory(
        aws=settings.aws,
        cloudwatch=settings.cloudwatch,
        azure=settings.azure,
        gcp=settings.gcp,
        lookback=timedelta(hours=settings.pipeline.lookback_hours),
        period=timedelta(seconds=settings.pipeline.period_seconds),
    )
    detector = AnomalyDetector(settings.detector, data_dir=settings.data_dir)
    flow = IncidentFlow(
        store=runtime.store,
        settings=settings,
        engine=runtime.engine,
        detect=DetectStage(detector=detector, history=history),
        fanout=runtime.fanout,
        metrics=runtime.metrics,
        clock=runtime.clock,
    )
    flow.register_jobs(runtime.jobs)
    runtime.engine.deps.score_now = lambda incident_id: flow.score_now(incident_id)
    # Reporting is retried by the job queue, so its clients send each call once (docs/retries.md).
    services = build_services(settings, client_retries=False)
    if settings.jira is not None:
        runtime.fanout.reporters.append(
            JiraReporter(runtime.store, lambda: services.get(JiraTickets), runtime.clock)
        )
    runtime.fanout.reporters.append(KpiObserver(runtime.store, runtime.metrics, runtime.clock))
    runtime.fanout.reporters.append(
        PagerDutyReporter(
            runtime.store,
            lambda: services.get(PagerDutyEvents),
            service=settings.approvals.escalate_to or settings.pagerduty.default_service,
            source=settings.pagerduty.source,
            clock=runtime.clock,
        )
    )
    for status in integration_status(settings):
        if status.name != "slack":  # the Slack wiring reports its own state, after trying the token
            log.info(f"{status.name}: {status.detail}", integration=status.name, enabled=status.enabled)


def webhook_intake(settings: Settings, store: Store, clock: Callable[[], datetime]) -> WebhookIntakeService:
    if settings.ingest.intake == "process":
        return ProcessIntake(settings)
    committer = GroupCommitter(
        store, batch_max=settings.ingest.batch_max, batch_wait=settings.ingest.batch_wait_ms / 1000.0
    )
    return InlineIntake(build_intake(settings, store, clock), committer)


def build_runtime(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    migrate_store: bool = True,
    confirm_subscription: Callable[[str], None] = confirm_sns_subscription,
) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.connect(
        settings.database_url(), echo=settings.database.echo, options=settings.database.pool_options()
    )
    if migrate_store:
        migrate.upgrade(store)
    metrics = Metrics()
    parse = make_parse(settings)
    identity = worker_name()
    intake = webhook_intake(settings, store, clock)
    runtime_ref: list[Runtime] = []

    def muting(session: Session, now: datetime) -> MutingContext:
        return runtime_ref[0].muting(session, now)

    processor = RawEventProcessor(
        store=store,
        settings=settings,
        parse=parse,
        muting=muting,
        confirm_subscription=confirm_subscription,
        metrics=metrics,
        clock=clock,
        between_writes=lambda: runtime_ref[0].let_requests_commit(),
        stopping=lambda: runtime_ref[0].draining_since is not None,
    )
    jobs = JobRunner(
        store=store,
        settings=settings,
        clock=clock,
        between_jobs=lambda: runtime_ref[0].let_requests_commit(),
        stopping=lambda: runtime_ref[0].draining_since is not None,
    )
    load_builtin_runbooks()
    load_runbook_dirs(list(settings.runbooks.directories))
    engine = Engine(
        EngineDeps(store=store, settings=settings, services=build_services(settings), clock=clock)
    )
    engine.register_jobs(jobs)
    grants = Grants(settings, os.environ)
    runtime = Runtime(
        settings=settings,
        store=store,
        metrics=metrics,
        clock=clock,
        intake=intake,
        processor=processor,
        jobs=jobs,
        engine=engine,
        identity=identity,
        grants=grants,
        guard=Guard(store, clock, grants.limits),
    )
    runtime_ref.append(runtime)
    runtime.fanout.register_jobs(jobs)
    engine.deps.on_change.append(_count_run_outcomes(metrics))
    attach_pipeline(runtime)

    def queue_depth(read: Callable[[Session], int]) -> Callable[[], float]:
        def _read() -> float:
            with store.sessions() as session:
                return float(read(session))

        return _read

    metrics.watch_queue(
        "jobs", queue_depth(pending_count), age=lambda: backlog_ages(store, clock()).jobs or 0.0
    )
    metrics.watch_queue(
        "raw_events",
        lambda: float(runtime.pending_raw_events()),
        age=lambda: backlog_ages(store, clock()).raw_events or 0.0,
    )
    with store.transaction() as session:
        now = clock()
        sync_config_silences(session, settings.silences, now=now)
        sync_config_freezes(session, settings.freezes, now=now)
        audit(
            session,
            at=now,
            actor="system",
            subject="config",
            action="config.loaded",
            details={"data_dir": str(settings.data_dir), "database": store.engine.dialect.name},
        )
    attach_slack(runtime)
    return runtime


def attach_slack(runtime: Runtime) -> None:
    """Hook Slack in when it is configured (the wiring says why not, otherwise)."""
    from bot.slack.wiring import SlackParts, build_slack  # Slack is optional: its modules load only here

    wiring = build_slack(
        SlackParts(
            settings=runtime.settings,
            store=runtime.store,
            engine=runtime.engine,
            clock=runtime.clock,
            grants=runtime.grants,
            guard=runtime.guard,
        )
    )
    if wiring is None:
        return
    runtime.fanout.reporters.append(wiring.reporter)
    runtime.services.extend(wiring.services)
    if wiring.http_route is not None:
        runtime.http_extensions.append(wiring.http_route)
    runtime.extras["slack"] = wiring
