"""`[scheduler]` and `[[sweeps]]`: what runs on a schedule inside `conductor serve`, and when.

A sweep is one of three kinds, each with its own keys (a key of another kind is an error):

- `anomaly`: pull the series named by `cloudwatch` / `azure` / `gcp` selectors over `lookback_minutes`
  at `period_seconds`, score each with the detector, raise an alert (source `sweep`) per anomaly;
- `waste`: resources whose average CPU stayed under `cpu_threshold` percent over `window_days`
  (EC2 instances by default, Azure App Service plans or sites listed under `azure`);
- `budget`: AWS Budgets whose actual spend reached `alert_share` of their limit;
- `digest`: the KPIs of the last `digest_days` (optionally one `service`), posted to Slack with a chart.

Errors name the key path, e.g. `sweeps[1].schedule.cron: ...`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from bot.alerts.normalized import Severity
from bot.config.settings import Section, TimeZoneName

SweepKind = Literal["anomaly", "waste", "budget", "digest"]
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}\Z")
# Azure Monitor serves these grains only (integrations/azure/monitor_metrics.TIME_GRAINS).
_AZURE_GRAINS = {60, 300, 900, 1800, 3600, 21600, 43200, 86400}
_DEFAULT_PERIOD = {"anomaly": 300, "waste": 3600, "budget": 300, "digest": 300}

# Keys that belong to one kind only; giving one to a sweep of another kind is an error.
_KIND_KEYS: dict[str, frozenset[str]] = {
    "anomaly": frozenset({"lookback_minutes", "recent_minutes", "resolve_after_minutes", "severity", "gcp"}),
    "waste": frozenset({"cpu_threshold", "window_days", "min_coverage", "slack_channel"}),
    "budget": frozenset({"budget_names", "account_id", "alert_share"}),
    "digest": frozenset({"digest_days", "service", "slack_channel"}),
}
_METRIC_KINDS = frozenset({"anomaly", "waste"})
_METRIC_KEYS = frozenset({"cloudwatch", "azure", "period_seconds"})


class ScheduleSettings(Section):
    """Exactly one of `cron` (five fields, as crontab), `interval_minutes` or `interval_seconds`.

    Interval ticks are aligned to a fixed epoch (2000-01-01 UTC), so every replica computes the same
    tick times; that is what lets the store run each tick once.
    """

    cron: str | None = None
    interval_minutes: float | None = Field(default=None, gt=0)
    interval_seconds: float | None = Field(default=None, gt=0)

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a valid crontab expression {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ScheduleSettings:
        given = [v for v in (self.cron, self.interval_minutes, self.interval_seconds) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of cron, interval_minutes, interval_seconds")
        return self

    def interval(self) -> timedelta | None:
        if self.interval_minutes is not None:
            return timedelta(minutes=self.interval_minutes)
        if self.interval_seconds is not None:
            return timedelta(seconds=self.interval_seconds)
        return None

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron}"
        interval = self.interval()
        assert interval is not None
        seconds = interval.total_seconds()
        if seconds % 60 == 0:
            return f"every {int(seconds // 60)}m"
        return f"every {seconds:g}s"


class CloudWatchSelector(Section):
    """One exact metric (`metric` + `dimensions`), or with `dimension_names` every metric of that
    schema, like SEARCH('{AWS/EC2,InstanceId} MetricName="CPUUtilization"') (`dimensions` then narrows
    to exact values)."""

    namespace: str = Field(min_length=1)
    metric: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    dimension_names: list[str] | None = None
    stat: str = "Average"

    @model_validator(mode="after")
    def _shape(self) -> CloudWatchSelector:
        if self.dimension_names is None:
            if not self.metric:
                raise ValueError("give metric (one exact metric) or dimension_names (every match)")
        else:
            unknown = sorted(set(self.dimensions) - set(self.dimension_names))
            if unknown:
                raise ValueError(f"dimensions {unknown} are not in dimension_names")
        return self


class AzureSelector(Section):
    """Metrics of one resource (an ARM id). `filter` is Azure Monitor's `$filter`, e.g.
    `Instance eq '*'` for one series per instance."""

    resource_uri: str = Field(min_length=1)
    metrics: list[str] = Field(min_length=1)
    aggregation: Literal["Average", "Minimum", "Maximum", "Total", "Count"] = "Average"
    metric_namespace: str | None = None
    filter: str | None = None


class GcpSelector(Section):
    """Time series of one metric type in one project; `labels` are exact matches on filter selectors
    such as `resource.labels.instance_id`."""

    project: str = Field(min_length=1)
    metric_type: str = Field(min_length=1)
    resource_type: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    extra_filter: str | None = None
    aligner: str = "ALIGN_MEAN"

    @field_validator("aligner")
    @classmethod
    def _known_aligner(cls, value: str) -> str:
        from integrations.gcp.monitoring import is_known_aligner

        if not is_known_aligner(value):
            raise ValueError(f"unknown aligner {value!r} (e.g. ALIGN_MEAN, ALIGN_MAX)")
        return value


def _default_schedule() -> ScheduleSettings:
    return ScheduleSettings(interval_minutes=15)


class SweepSettings(Section):
    name: str
    kind: SweepKind
    enabled: bool = True
    schedule: ScheduleSettings = Field(default_factory=_default_schedule)
    # Each tick starts after a random delay of up to this many seconds (spreads load on the APIs).
    jitter_seconds: float = Field(default=0.0, ge=0)
    # A tick that could not start on time still runs if it is at most this late.
    misfire_grace_seconds: float = Field(default=300.0, gt=0)
    # Several missed ticks run once, not once each.
    coalesce: bool = True

    # anomaly and waste: where the series come from, and their resolution
    cloudwatch: list[CloudWatchSelector] = Field(default_factory=list)
    azure: list[AzureSelector] = Field(default_factory=list)
    period_seconds: int | None = Field(default=None, ge=1)  # default: 300 (anomaly), 3600 (waste)

    # anomaly
    gcp: list[GcpSelector] = Field(default_factory=list)
    lookback_minutes: int = Field(default=1440, ge=10)
    # A point scored anomalous within this many minutes before the run raises an alert.
    recent_minutes: int = Field(default=30, ge=1)
    # A firing sweep alert resolves once no point of the last this-many minutes scored anomalous.
    resolve_after_minutes: int = Field(default=60, ge=1)
    severity: Severity = Severity.WARNING

    # waste
    cpu_threshold: float = Field(default=20.0, gt=0, le=100)
    window_days: float = Field(default=7.0, gt=0, le=63)
    # A resource is judged only when at least this share of the window's periods has data.
    min_coverage: float = Field(default=0.5, gt=0, le=1)
    slack_channel: str | None = None  # default: [slack] default_channel

    # budget
    budget_names: list[str] = Field(default_factory=list)  # empty: every budget of the account
    account_id: str | None = None  # default: the caller's account (STS GetCallerIdentity)
    alert_share: float = Field(default=0.8, gt=0, le=10)

    # digest (slack_channel as for waste)
    digest_days: float = Field(default=7.0, gt=0, le=366)
    service: str | None = None  # only alerts labelled service=S

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use lower-case letters, digits, '-', '_' or '.' (at most 100)")
        return value

    @model_validator(mode="after")
    def _kind_keys(self) -> SweepSettings:
        own = _KIND_KEYS[self.kind] | (_METRIC_KEYS if self.kind in _METRIC_KINDS else frozenset())
        foreign = sorted((self.model_fields_set & set().union(*_KIND_KEYS.values(), _METRIC_KEYS)) - own)
        if foreign:
            raise ValueError(f"{', '.join(foreign)}: not a key of a {self.kind} sweep")
        if self.kind == "anomaly" and not (self.cloudwatch or self.azure or self.gcp):
            raise ValueError("an anomaly sweep needs at least one cloudwatch, azure or gcp selector")
        if self.azure and self.period().total_seconds() not in _AZURE_GRAINS:
            raise ValueError(
                f"period_seconds: Azure Monitor serves {sorted(_AZURE_GRAINS)} only, "
                f"not {self.period_seconds}"
            )
        period = self.period().total_seconds()
        if self.cloudwatch and not (period in (1, 5, 10, 20, 30) or period % 60 == 0):
            raise ValueError("period_seconds: CloudWatch wants 1, 5, 10, 20, 30 or a multiple of 60")
        return self

    def period(self) -> timedelta:
        return timedelta(seconds=self.period_seconds or _DEFAULT_PERIOD[self.kind])

    def default_sources(self) -> list[CloudWatchSelector]:
        """A waste sweep without a `cloudwatch` key looks at every EC2 instance's CPUUtilization
        (`cloudwatch = []` turns that off)."""
        if self.kind == "waste" and "cloudwatch" not in self.model_fields_set:
            return [
                CloudWatchSelector(
                    namespace="AWS/EC2", metric="CPUUtilization", dimension_names=["InstanceId"]
                )
            ]
        return list(self.cloudwatch)


class SchedulerSettings(Section):
    """One scheduler is active across replicas: the holder of a lease stored in the database."""

    enabled: bool = True
    lease_seconds: float = Field(default=30.0, gt=0)
    # How often the holder renews (and the others try to take over). Default: a third of the lease.
    renew_every_seconds: float | None = Field(default=None, gt=0)
    timezone: TimeZoneName = "UTC"  # what cron schedules mean
    max_concurrent_sweeps: int = Field(default=2, ge=1, le=16)

    @model_validator(mode="after")
    def _renew_before_expiry(self) -> SchedulerSettings:
        if self.renew_every_seconds is not None and self.renew_every_seconds >= self.lease_seconds:
            raise ValueError("renew_every_seconds must be shorter than lease_seconds")
        return self

    def renew_every(self) -> float:
        return self.renew_every_seconds or self.lease_seconds / 3


def _unique_names(sweeps: list[SweepSettings]) -> list[SweepSettings]:
    seen: dict[str, int] = {}
    for index, sweep in enumerate(sweeps):
        if sweep.name in seen:
            raise ValueError(f"two sweeps named {sweep.name!r} ([{seen[sweep.name]}] and [{index}])")
        seen[sweep.name] = index
    return sweeps


# `Settings.sweeps`: a name names one sweep.
SweepList = Annotated[list[SweepSettings], AfterValidator(_unique_names)]
