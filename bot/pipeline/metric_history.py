"""Fetch the recent history of the metric an alert names, from the cloud that owns it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.alerts.normalized import NormalizedAlert, Provider
from bot.errors import ConductorError
from detectors.series import MetricSeries
from integrations.aws.cloudwatch_metrics import CloudWatchMetricSource
from integrations.aws.settings import AwsSettings, CloudWatchSettings
from integrations.azure.monitor_metrics import AzureMonitorMetricSource
from integrations.azure.settings import AzureSettings
from integrations.gcp.monitoring import CloudMonitoringMetricSource
from integrations.gcp.settings import CloudMonitoringSettings


class NoMetric(ConductorError):
    """The alert names no metric we can fetch; the reason says what is missing."""


def azure_resource_uri(alert: NormalizedAlert) -> str:
    """`SUB/RG/NAME` plus the metric namespace (the ARM resource type) -> the ARM resource id."""
    metric = alert.metric
    rid = alert.resource.id or ""
    if rid.startswith("/subscriptions/"):
        return rid
    parts = rid.split("/")
    if metric is None or not metric.namespace or len(parts) != 3:
        raise NoMetric("the Azure alert names no resource id and metric namespace")
    subscription, group, name = parts
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{metric.namespace}/{name}"


def aligned_start(start: datetime, period: timedelta) -> datetime:
    """`start` rounded down to a whole period since the epoch.

    Metric services bucket a window from its start, so a start that moves with the clock makes
    every fetch return the same data under new bucket times, and the detector would take re-bucketed
    old points for new ones (a sustained spike would look less anomalous at every look). Aligned,
    repeated fetches return the same buckets, and only a new period adds a point."""
    seconds = period.total_seconds()
    epoch = start.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, start.tzinfo)


class MetricHistory:
    """One fetch per alert; sources are built on first use (per AWS region)."""

    def __init__(
        self,
        *,
        aws: AwsSettings,
        cloudwatch: CloudWatchSettings,
        azure: AzureSettings,
        gcp: CloudMonitoringSettings,
        lookback: timedelta,
        period: timedelta,
        azure_source: Callable[[], AzureMonitorMetricSource] | None = None,
        gcp_source: Callable[[], CloudMonitoringMetricSource] | None = None,
    ) -> None:
        self._aws = aws
        self._cloudwatch = cloudwatch
        self._lookback = lookback
        self._period = period
        self._lock = threading.Lock()
        self._cw: dict[str, CloudWatchMetricSource] = {}
        self._azure_factory = azure_source or (lambda: AzureMonitorMetricSource(azure))
        self._gcp_factory = gcp_source or (lambda: CloudMonitoringMetricSource(gcp))
        self._azure: AzureMonitorMetricSource | None = None
        self._gcp: CloudMonitoringMetricSource | None = None

    def _cloudwatch_for(self, region: str | None) -> CloudWatchMetricSource:
        key = region or ""
        with self._lock:
            if key not in self._cw:
                settings = self._aws.model_copy(update={"region": region}) if region else self._aws
                self._cw[key] = CloudWatchMetricSource(self._cloudwatch, aws=settings)
            return self._cw[key]

    def _lazy(self, name: str) -> Any:
        with self._lock:
            if name == "azure":
                self._azure = self._azure or self._azure_factory()
                return self._azure
            self._gcp = self._gcp or self._gcp_factory()
            return self._gcp

    def fetch(self, alert: NormalizedAlert, now: datetime) -> MetricSeries:
        """Raises NoMetric (nothing to fetch) or IntegrationError (the fetch failed)."""
        metric = alert.metric
        if metric is None or not metric.name:
            raise NoMetric("the alert names no metric")
        start, end = aligned_start(now - self._lookback, self._period), now
        provider = alert.resource.provider
        if provider is Provider.AWS:
            if not metric.namespace:
                raise NoMetric("the CloudWatch alarm names no namespace (metric math or composite alarm)")
            source = self._cloudwatch_for(alert.resource.region)
            return source.fetch_alert_metric(
                metric.namespace, metric.name, metric.dimensions, metric.statistic, start, end, self._period
            )
        if provider is Provider.AZURE:
            source_az: AzureMonitorMetricSource = self._lazy("azure")
            return source_az.fetch_alert_metric(
                azure_resource_uri(alert), metric.name, metric.statistic, start, end, self._period
            )
        if provider is Provider.GCP:
            if not alert.resource.account:
                raise NoMetric("the Cloud Monitoring incident names no project")
            labels = (
                {"instance_id": alert.resource.id}
                if alert.resource.type == "gce_instance" and alert.resource.id
                else {}
            )
            source_gcp: CloudMonitoringMetricSource = self._lazy("gcp")
            return source_gcp.fetch_alert_metric(
                alert.resource.account,
                metric.name,
                start,
                end,
                self._period,
                resource_type=alert.resource.type,
                resource_labels=labels,
            )
        raise NoMetric(f"no metric source for provider {provider.value}")
