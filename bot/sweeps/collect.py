"""Fetch a sweep's series from its selectors, each tagged with the resource and metric it measures.

A source that fails (after its own retries) does not stop the sweep: its selectors yield nothing
and its `SourceReport` says why, so the run is `degraded` and `/api/sweeps` shows the source as
unhealthy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.alerts.normalized import Metric, Provider, Resource
from bot.config.sweeps import AzureSelector, CloudWatchSelector, GcpSelector, SweepSettings
from bot.errors import ConductorError, IntegrationError
from bot.sweeps.report import Progress, SourceReport
from bot.sweeps.sources import SweepSources
from detectors.series import MetricSeries
from integrations.metrics import SourceHealth

_GCP_ID_LABELS = ("instance_id", "service_name", "function_name", "cluster_name", "database_id", "job_id")
_GCP_REGION_LABELS = ("zone", "region", "location")


@dataclass(frozen=True, slots=True)
class TaggedSeries:
    """A fetched series and what it measures, in the normalized alert's own terms."""

    series: MetricSeries
    resource: Resource
    metric: Metric


@dataclass(slots=True)
class Collected:
    series: list[TaggedSeries]
    sources: list[SourceReport]


def collect(
    sweep: SweepSettings,
    sources: SweepSources,
    *,
    end: datetime,
    lookback: timedelta,
    progress: Progress | None = None,
) -> Collected:
    """Fetch every selector of `sweep` over `end - lookback .. end` at the sweep's period."""
    start, period = end - lookback, sweep.period()
    cloudwatch = sweep.default_sources()
    plan: list[tuple[str, Callable[[], Any], Callable[[Any], list[TaggedSeries]]]] = []
    plan += [
        ("cloudwatch", sources.cloudwatch, _cloudwatch_fetcher(s, start, end, period)) for s in cloudwatch
    ]
    plan += [("azure-monitor", sources.azure, _azure_fetcher(s, start, end, period)) for s in sweep.azure]
    if sweep.kind == "anomaly":
        plan += [("cloud-monitoring", sources.gcp, _gcp_fetcher(s, start, end, period)) for s in sweep.gcp]
    found: list[TaggedSeries] = []
    counts: dict[str, int] = {}
    errors: dict[str, str] = {}
    healths: dict[str, SourceHealth] = {}
    for done, (system, get_source, fetch) in enumerate(plan):
        if progress is not None:
            progress(f"fetching from {system}", done, len(plan))
        counts.setdefault(system, 0)
        try:
            source = get_source()
        except ConductorError as error:  # not configured (no region, no credentials...)
            errors.setdefault(system, str(error))
            continue
        try:
            tagged = fetch(source)
        except IntegrationError as error:
            errors[system] = str(error)
        else:
            found += tagged
            counts[system] += len(tagged)
        healths[system] = source.health()
    if progress is not None:
        progress("fetched", len(plan), len(plan))
    reports = [
        SourceReport.of(
            healths.get(name, SourceHealth(name, healthy=False)), series=n, error=errors.get(name)
        )
        for name, n in counts.items()
    ]
    return Collected(found, reports)


def _cloudwatch_fetcher(
    selector: CloudWatchSelector, start: datetime, end: datetime, period: timedelta
) -> Callable[[Any], list[TaggedSeries]]:
    from integrations.aws.cloudwatch_metrics import CloudWatchMetricSource
    from integrations.aws.cloudwatch_queries import (
        CloudWatchMetricQuery,
        CloudWatchSearch,
        normalize_statistic,
    )
    from integrations.aws.resources import resource_from_dimensions

    stat = normalize_statistic(selector.stat)
    query: CloudWatchMetricQuery | CloudWatchSearch
    if selector.dimension_names is None:
        assert selector.metric is not None  # the settings check this
        query = CloudWatchMetricQuery(selector.namespace, selector.metric, dict(selector.dimensions), stat)
    else:
        query = CloudWatchSearch(
            selector.namespace,
            tuple(selector.dimension_names),
            selector.metric,
            dict(selector.dimensions),
            stat,
        )

    def fetch(source: CloudWatchMetricSource) -> list[TaggedSeries]:
        prefix = f"aws/{source.region or '-'}/{selector.namespace}/"
        tagged = []
        for series in source.fetch([query], start, end, period):
            name = selector.metric or series.key.removeprefix(prefix).split("/", 1)[0]
            dims = dict(series.labels)
            resource = resource_from_dimensions(
                dims, namespace=selector.namespace, account=None, region=source.region
            ) or Resource(
                provider=Provider.AWS, region=source.region, type="cloudwatch:metric", id=series.key
            )
            metric = Metric(
                namespace=selector.namespace, name=name, dimensions=dims, statistic=stat, unit=series.unit
            )
            tagged.append(TaggedSeries(series, resource, metric))
        return tagged

    return fetch


def _azure_fetcher(
    selector: AzureSelector, start: datetime, end: datetime, period: timedelta
) -> Callable[[Any], list[TaggedSeries]]:
    from integrations.azure.arm import resource_from_arm_id
    from integrations.azure.monitor_metrics import (
        AzureMetricQuery,
        AzureMonitorMetricSource,
        azure_series_key,
    )

    query = AzureMetricQuery(
        selector.resource_uri,
        tuple(selector.metrics),
        selector.aggregation,
        metric_namespace=selector.metric_namespace,
        filter=selector.filter,
    )
    resource = resource_from_arm_id(selector.resource_uri) or Resource(
        provider=Provider.AZURE, id=selector.resource_uri
    )
    # A series key starts with the key of its metric without dimensions, minus the aggregation.
    prefixes = [
        (
            name,
            azure_series_key(selector.resource_uri, name, selector.aggregation, {}).rsplit("/", 1)[0] + "/",
        )
        for name in selector.metrics
    ]

    def metric_of(key: str) -> str:
        matching = [name for name, prefix in prefixes if key.startswith(prefix)]
        return max(matching, key=len) if matching else key

    def fetch(source: AzureMonitorMetricSource) -> list[TaggedSeries]:
        tagged = []
        for series in source.fetch([query], start, end, period):
            dims = {k: v for k, v in series.labels.items() if k != "resource_id"}
            metric = Metric(
                namespace=selector.metric_namespace or _arm_namespace(selector.resource_uri),
                name=metric_of(series.key),
                dimensions=dims,
                statistic=selector.aggregation,
                unit=series.unit,
            )
            tagged.append(TaggedSeries(series, resource, metric))
        return tagged

    return fetch


def _gcp_fetcher(
    selector: GcpSelector, start: datetime, end: datetime, period: timedelta
) -> Callable[[Any], list[TaggedSeries]]:
    from integrations.gcp.monitoring import CloudMonitoringMetricSource, GcpMetricQuery

    query = GcpMetricQuery(
        selector.project,
        selector.metric_type,
        selector.resource_type,
        dict(selector.labels),
        selector.aligner,
        extra_filter=selector.extra_filter,
    )

    def fetch(source: CloudMonitoringMetricSource) -> list[TaggedSeries]:
        tagged = []
        for series in source.fetch([query], start, end, period):
            labels = dict(series.labels)
            resource_labels = {
                k.removeprefix("resource.labels."): v
                for k, v in labels.items()
                if k.startswith("resource.labels.")
            }
            ident = next((resource_labels[k] for k in _GCP_ID_LABELS if resource_labels.get(k)), None)
            resource = Resource(
                provider=Provider.GCP,
                account=resource_labels.get("project_id") or selector.project,
                region=next((resource_labels[k] for k in _GCP_REGION_LABELS if resource_labels.get(k)), None),
                type=labels.get("resource.type") or selector.resource_type,
                id=ident or series.key,
                name=ident,
            )
            metric = Metric(
                namespace=selector.metric_type.split("/", 1)[0],
                name=selector.metric_type,
                dimensions=labels,
                statistic=selector.aligner,
                unit=series.unit,
            )
            tagged.append(TaggedSeries(series, resource, metric))
        return tagged

    return fetch


def _arm_namespace(resource_uri: str) -> str:
    """`/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/x` -> `Microsoft.Web/sites`."""
    parts = [p for p in resource_uri.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return ""
    at = lowered.index("providers")
    return "/".join(parts[at + 1 : at + 3])


def total_points(series: Sequence[TaggedSeries]) -> int:
    return sum(len(t.series) for t in series)
