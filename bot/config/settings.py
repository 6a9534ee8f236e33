"""Typed settings. Every section forbids unknown keys so a typo is an error, not a silent default.

Secrets are never values here: settings name the environment variable that holds them.
"""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bot.alerts.normalized import Severity
from bot.store.db import PoolOptions


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name, e.g. UTC, Europe/Berlin)") from None
    return value


# An IANA time zone name (what cron schedules and freeze windows mean).
TimeZoneName = Annotated[str, AfterValidator(_known_time_zone)]


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Seconds to let in-flight requests and work finish on SIGTERM before parking the rest.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    # Kept for configs written before [permissions]: when this variable is set, its token is the
    # API token named "default" with the responder role. Prefer [[permissions.api_tokens]].
    api_token_env: str = "CONDUCTOR_API_TOKEN"


class ConsoleSettings(Section):
    """`[console]`: the web console at /ui/ (sign in with a named API token)."""

    enabled: bool = True
    # The variable holding the key that signs session cookies. Unset: a random key per process
    # (sessions end when it restarts; several replicas need the same key).
    secret_env: str = "CONDUCTOR_CONSOLE_SECRET"
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)


class DatabaseSettings(Section):
    # Empty: SQLite file `conductor.sqlite3` in the data dir. Else a SQLAlchemy URL, e.g.
    # postgresql+psycopg://conductor@db/conductor. CONDUCTOR_DATABASE_URL overrides it.
    url: str = ""
    # Per replica (docs/ha.md): at most pool_size + max_overflow connections for the server and
    # workers; waiting longer than pool_timeout_seconds for one is an error (503, or a retry).
    pool_size: int = Field(default=5, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout_seconds: float = Field(default=30.0, gt=0)
    # PostgreSQL only; 0 turns a limit off. Migrations run without them.
    statement_timeout_ms: int = Field(default=30_000, ge=0)
    lock_timeout_ms: int = Field(default=10_000, ge=0)
    connect_timeout_seconds: int = Field(default=10, ge=1)
    echo: bool = False

    def pool_options(self, *, pool_size: int | None = None) -> PoolOptions:
        """What `Store.connect` needs; a helper process passes its own smaller `pool_size`."""
        return PoolOptions(
            pool_size=pool_size or self.pool_size,
            max_overflow=self.max_overflow if pool_size is None else 0,
            pool_timeout_seconds=self.pool_timeout_seconds,
            statement_timeout_ms=self.statement_timeout_ms,
            lock_timeout_ms=self.lock_timeout_ms,
            connect_timeout_seconds=self.connect_timeout_seconds,
        )


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["human", "json"] = "human"


class SourceAuth(Section):
    """How one webhook source proves who it is. `mode` picks the check."""

    mode: Literal["none", "bearer", "basic", "sns", "pagerduty", "grafana"] = "none"
    # bearer: env var holding the token; basic: env var holding "user:password"
    # pagerduty / grafana: env var holding the HMAC secret (comma-separated for rotation)
    secret_env: str = ""
    # sns: TopicArn allow-list (fnmatch patterns). Empty allows every topic.
    allowed_topic_arns: list[str] = Field(default_factory=list)
    # grafana: header names
    signature_header: str = "X-Grafana-Alerting-Signature"
    timestamp_header: str = ""

    @model_validator(mode="after")
    def _secret_named(self) -> SourceAuth:
        if self.mode in ("bearer", "basic", "pagerduty", "grafana") and not self.secret_env.strip():
            raise ValueError(f"mode {self.mode!r} needs secret_env (the variable holding the secret)")
        return self


class CloudWatchOptions(Section):
    insufficient_data_status: Literal["firing", "resolved"] = "firing"
    insufficient_data_severity: Severity = Severity.WARNING


class GrafanaOptions(Section):
    # Legacy (pre-8) alerting "no_data": "firing" (with the severity below), "resolved" or
    # "ignore" (no alert).
    no_data_status: Literal["firing", "resolved", "ignore"] = "firing"
    no_data_severity: Severity = Severity.WARNING


Ec2State = Literal["stopped", "stopping", "shutting-down", "terminated"]


def _default_ec2_alert_states() -> list[Ec2State]:
    return ["stopped", "terminated"]


class EventBridgeOptions(Section):
    # EC2 Instance State-change Notification: the states that fire (a later "running" resolves).
    ec2_alert_states: list[Ec2State] = Field(default_factory=_default_ec2_alert_states)
    # Instances whose stops are expected (fnmatch patterns, e.g. "i-0abc*"): no alert at all.
    ec2_expected_instances: list[str] = Field(default_factory=list)


class IngestSettings(Section):
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Per source; a source with no entry accepts unauthenticated requests only when
    # `allow_unauthenticated` is true (the embedded default, for local use).
    auth: dict[str, SourceAuth] = Field(default_factory=dict)
    allow_unauthenticated: bool = True
    cloudwatch: CloudWatchOptions = Field(default_factory=CloudWatchOptions)
    grafana: GrafanaOptions = Field(default_factory=GrafanaOptions)
    eventbridge: EventBridgeOptions = Field(default_factory=EventBridgeOptions)
    # "process": bodies are checked and committed by an intake process beside the HTTP event loop
    # (bot.ingest.intake_process); "inline": in the HTTP process (a committer thread).
    intake: Literal["process", "inline"] = "process"
    # Group commit: how many webhook bodies one transaction may carry, and how long to wait for more
    # (0: commit what has arrived; bodies arriving meanwhile form the next batch).
    batch_max: int = Field(default=256, ge=1)
    batch_wait_ms: float = Field(default=0.0, ge=0)


class WorkerSettings(Section):
    threads: int = Field(default=2, ge=1, le=64)
    poll_interval_seconds: float = Field(default=0.2, gt=0)
    claim_batch: int = Field(default=64, ge=1)
    # A claimed item not finished within this time is claimed again (its worker died).
    claim_timeout_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)


class IncidentSettings(Section):
    # Like Alertmanager's group_by. Names: provider, resource, name, source, severity, or label:<key>.
    group_by: list[str] = Field(default_factory=lambda: ["provider", "resource", "name"])
    # A firing alert within this many minutes of its incident resolving re-opens it.
    reopen_window_minutes: float = Field(default=30.0, ge=0)
    # N status changes within T minutes mark an alert flapping.
    flap_changes: int = Field(default=4, ge=2)
    flap_window_minutes: float = Field(default=30.0, gt=0)

    @field_validator("group_by")
    @classmethod
    def _known_keys(cls, value: list[str]) -> list[str]:
        allowed = {"provider", "resource", "name", "source", "severity"}
        for key in value:
            if key not in allowed and not (key.startswith("label:") and len(key) > 6):
                raise ValueError(f"unknown group key {key!r} (use {sorted(allowed)} or label:<key>)")
        if not value:
            raise ValueError("must name at least one key")
        return value


class Matcher(Section):
    """`name` is an alert field (name, source, severity, status, provider, resource_type,
    resource_id) or `label:<key>`; `op` is = != =~ !~ (regex matches the whole value)."""

    name: str
    op: Literal["=", "!=", "=~", "!~"] = "="
    value: str


class StaticSilence(Section):
    matchers: list[Matcher]
    starts_at: AwareDatetime | None = None  # default: at start-up
    ends_at: AwareDatetime
    comment: str = ""
    created_by: str = "config"


class InhibitRule(Section):
    """While an alert matching `source_match` fires, alerts matching `target_match` with the same
    values for `equal` labels are muted."""

    source_match: list[Matcher]
    target_match: list[Matcher]
    equal: list[str] = Field(default_factory=list)


class DataDirSettings(Section):
    pass


class PipelineSettings(Section):
    """The detect stage: how much of an alert's metric history to fetch and at what resolution."""

    lookback_hours: float = Field(default=72.0, gt=0, le=24 * 63)
    period_seconds: int = Field(default=300, ge=60)
