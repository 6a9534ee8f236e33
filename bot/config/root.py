"""The root settings object and its defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bot.config.permissions import PermissionSettings
from bot.config.policies import CapSettings, CircuitSettings, FreezeSettings
from bot.config.rules import ApprovalSettings, RuleSettings
from bot.config.settings import (
    ConsoleSettings,
    DatabaseSettings,
    IncidentSettings,
    IngestSettings,
    InhibitRule,
    LoggingSettings,
    PipelineSettings,
    Section,
    ServerSettings,
    StaticSilence,
    WorkerSettings,
)
from bot.config.sweeps import SchedulerSettings, SweepList
from detectors.settings import DetectorSettings
from integrations.aws.settings import AwsSettings, CloudWatchSettings
from integrations.azure.settings import AzureSettings
from integrations.downstream.settings import DownstreamSettings
from integrations.gcp.settings import CloudMonitoringSettings
from integrations.jira.settings import JiraSettings
from integrations.pagerduty.settings import PagerDutySettings
from integrations.slack.settings import SlackSettings


class RunbookSettings(Section):
    # Extra directories of user runbook modules, loaded like the built-ins.
    directories: list[Path] = Field(default_factory=list)
    # Verification: how long to wait for the alerts to resolve / the score to fall after acting.
    verify_timeout_minutes: float = Field(default=10.0, gt=0)
    verify_poll_seconds: float = Field(default=15.0, gt=0)


class Settings(Section):
    data_dir: Path = Path("./var")
    server: ServerSettings = Field(default_factory=ServerSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    silences: list[StaticSilence] = Field(default_factory=list)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    runbooks: RunbookSettings = Field(default_factory=RunbookSettings)
    rules: list[RuleSettings] = Field(default_factory=list)
    # Safety policies (docs/policies.md): change freezes, blast-radius caps, circuit breakers.
    freezes: list[FreezeSettings] = Field(default_factory=list)
    caps: CapSettings = Field(default_factory=CapSettings)
    circuit_breaker: CircuitSettings = Field(default_factory=CircuitSettings)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    permissions: PermissionSettings = Field(default_factory=PermissionSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    detector: DetectorSettings = Field(default_factory=DetectorSettings)
    # Integrations. Each is off until its credentials are present; serve says which at start-up.
    aws: AwsSettings = Field(default_factory=AwsSettings)
    cloudwatch: CloudWatchSettings = Field(default_factory=CloudWatchSettings)
    azure: AzureSettings = Field(default_factory=AzureSettings)
    gcp: CloudMonitoringSettings = Field(default_factory=CloudMonitoringSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    jira: JiraSettings | None = None  # no [jira] section: Jira is off
    pagerduty: PagerDutySettings = Field(default_factory=PagerDutySettings)
    downstream: DownstreamSettings = Field(default_factory=DownstreamSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    sweeps: SweepList = Field(default_factory=list)

    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'conductor.sqlite3').resolve()}"
