"""SQLAlchemy 2 models for the core entities. Migrations in bot/store/migrations mirror them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base as Base
from bot.store.base import JSONType, UTCDateTime


class RawEvent(Base):
    """A webhook body exactly as received, committed before the 202."""

    __tablename__ = "raw_events"
    __table_args__ = (
        UniqueConstraint("source", "idempotency_key", name="uq_raw_events_source_key"),
        Index("ix_raw_events_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    content_type: Mapped[str] = mapped_column(String(200), default="")
    headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    # pending -> done | failed (dead-lettered)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    # Alerts of this event applied so far: a large group is applied a bounded slice per
    # transaction, and a worker that takes it over after a crash resumes here.
    alerts_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DeadLetter(Base):
    """An authenticated body that could not be understood, kept for replay after a fix."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    content_type: Mapped[str] = mapped_column(String(200), default="")
    headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    raw_event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    replay_result: Mapped[str] = mapped_column(Text, default="")


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        # At most one unresolved incident per group: `open_group_key` is the group key while the
        # incident is open or acknowledged and NULL once resolved (NULLs never collide).
        UniqueConstraint("open_group_key", name="uq_incidents_open_group_key"),
        Index("ix_incidents_group_key", "group_key"),
        Index("ix_incidents_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_key: Mapped[str] = mapped_column(String(512))
    open_group_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|acknowledged|resolved
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(20), default="unknown")
    provider: Mapped[str] = mapped_column(String(20), default="other")
    resource_type: Mapped[str] = mapped_column(String(100), default="")
    resource_id: Mapped[str] = mapped_column(String(500), default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_by: Mapped[str] = mapped_column(String(200), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str] = mapped_column(String(200), default="")
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    alert_events: Mapped[int] = mapped_column(Integer, default=0)  # firing deliveries, repeats included
    flapping: Mapped[bool] = mapped_column(default=False)
    muted_reason: Mapped[str] = mapped_column(String(200), default="")
    # detection
    anomaly_status: Mapped[str] = mapped_column(String(30), default="")  # ok|insufficient_data|error
    anomaly_score: Mapped[float | None] = mapped_column(nullable=True)
    anomaly_threshold: Mapped[float | None] = mapped_column(nullable=True)
    explanation: Mapped[str] = mapped_column(Text, default="")
    # the metric window behind the score: {"key", "unit", "timestamps", "values", "scores", "threshold"}
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # the gate's decision and its reason ("auto_run", "needs_approval", "no_action: ...")
    decision: Mapped[str] = mapped_column(String(40), default="")
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    # reporting handles
    slack_channel: Mapped[str] = mapped_column(String(100), default="")
    slack_ts: Mapped[str] = mapped_column(String(40), default="")
    jira_key: Mapped[str] = mapped_column(String(50), default="")
    pagerduty_dedup_key: Mapped[str] = mapped_column(String(255), default="")


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("source", "fingerprint", name="uq_alerts_source_fingerprint"),
        Index("ix_alerts_incident_id", "incident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    fingerprint: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    resource: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metric: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    annotations: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    links: Mapped[list[str]] = mapped_column(JSONType, default=list)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    # ISO timestamps of recent status changes, for flap detection
    status_changes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    flapping: Mapped[bool] = mapped_column(default=False)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)
    muted_reason: Mapped[str] = mapped_column(String(200), default="")  # silenced:<id> | inhibited:<alert>
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True)
    last_raw_event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class RunbookRun(Base):
    __tablename__ = "runbook_runs"
    __table_args__ = (
        # One active run per target, enforced by the database: `active_target` is the target while
        # the run is active and NULL once it reaches a final state.
        UniqueConstraint("active_target", name="uq_runbook_runs_active_target"),
        Index("ix_runbook_runs_target_created", "target", "created_at"),
        Index("ix_runbook_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    runbook_id: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(500))
    active_target: Mapped[str | None] = mapped_column(String(500), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(200), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    plan: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # the step a crash interrupted: "" | "acting" (call may have been sent) | "verifying"
    in_flight: Mapped[str] = mapped_column(String(20), default="")
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    verify_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The service the run acts for (the incident's `service` label), for caps, freezes and circuits.
    service: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # What the policies decided about the run: {"mode": "suggest", "cap": "...", "cap_approved": true,
    # "freeze": "...", "queued_at": "...", "suggested_by_run": 12}.
    policy: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("run_id", name="uq_approvals_run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runbook_runs.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|approved|denied|expired
    quorum: Mapped[int] = mapped_column(Integer, default=1)
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[str] = mapped_column(String(500), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class ApprovalVote(Base):
    __tablename__ = "approval_votes"
    __table_args__ = (UniqueConstraint("approval_id", "user", name="uq_approval_votes_approval_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"))
    user: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(20))  # approve|deny
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Silence(Base):
    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSONType)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    origin: Mapped[str] = mapped_column(String(20), default="api")  # config|api|cli|slack


class AuditRecord(Base):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject", "subject"), Index("ix_audit_log_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    request_id: Mapped[str] = mapped_column(String(64), default="")


class Lease(Base):
    """A named lease (e.g. the scheduler's) held by one process until it expires."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Job(Base):
    """Derived work (detect, run, expire an approval, report) that workers claim."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_jobs_dedupe_key"),
        Index("ix_jobs_status_run_after", "status", "run_after"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|done|failed
    run_after: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class SweepRun(Base):
    """One run of a configured sweep. A scheduled tick is claimed by inserting its row, so the
    unique (sweep, tick) makes each tick run once even while leadership changes hands."""

    __tablename__ = "sweep_runs"
    __table_args__ = (
        UniqueConstraint("sweep", "tick", name="uq_sweep_runs_sweep_tick"),
        Index("ix_sweep_runs_sweep_started_at", "sweep", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sweep: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    tick: Mapped[datetime] = mapped_column(UTCDateTime())  # the scheduled time; manual runs: start
    trigger: Mapped[str] = mapped_column(String(20), default="schedule")  # schedule|manual
    holder: Mapped[str] = mapped_column(String(200), default="")  # the process that ran it
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|ok|degraded|failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(nullable=True)
    series_scanned: Mapped[int] = mapped_column(Integer, default=0)
    findings_count: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # health per source
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")


class Notification(Base):
    """The notification log: one row per message sent outside, so a retried job never sends twice
    and two replicas never send the same message (the row is claimed before the message is sent)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("key", name="uq_notifications_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300))  # e.g. slack:run:12:succeeded
    channel: Mapped[str] = mapped_column(String(20))  # slack | jira | pagerduty
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ref: Mapped[str] = mapped_column(String(300), default="")  # message ts, ticket key, dedup key
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())  # first claimed at, until it is sent
    # claimed (a worker is sending it; others wait) -> sent. A claim whose holder died is taken
    # over once `claimed_until` passes (or at once, by a restart on the same host).
    state: Mapped[str] = mapped_column(String(20), default="sent", server_default="sent")
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SeenSlackRequest(Base):
    """A signed Slack request already handled (its signature and timestamp, hashed), kept until
    Slack's 5-minute freshness window has long passed, so a replay is ignored on every replica."""

    __tablename__ = "slack_seen_requests"
    __table_args__ = (Index("ix_slack_seen_requests_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


# The safety policies' tables live in their own module; imported here so that `Base.metadata`
# (and whoever imports the models from here) sees them.
from bot.store.policy_models import Circuit as Circuit  # noqa: E402
from bot.store.policy_models import Freeze as Freeze  # noqa: E402
from bot.store.policy_models import PolicyLock as PolicyLock  # noqa: E402
