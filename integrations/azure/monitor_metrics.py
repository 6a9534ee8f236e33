"""Azure Monitor metrics as a `MetricSource`, through azure-mgmt-monitor's `metrics.list`.

Why azure-mgmt-monitor: azure-monitor-query 2.x dropped `MetricsQueryClient`; the alternative,
azure-monitor-querymetrics, talks to a regional batch endpoint with its own token scope.
`MonitorManagementClient.metrics.list` is plain ARM
(`GET {resourceUri}/providers/Microsoft.Insights/metrics`): the same base URL (`[azure] arm_endpoint`,
sovereign clouds included), credential, TLS settings and error shapes as azure-mgmt-web, so one
ARM fake serves both in tests.

azure-core's own retries are off (`retry_total=0`): `call_with_retry` retries throttling (429,
honouring Retry-After), 408, 5xx and dropped connections with an injectable wait; 401/403/404 and
other 4xx are permanent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, HttpResponseError

from bot.clock import Clock, utc_now
from bot.errors import IntegrationError
from detectors.series import MetricSeries
from integrations.azure.appservice import to_integration_error
from integrations.azure.settings import AzureSettings
from integrations.metrics import (
    MetricSourceBase,
    RetryPolicy,
    TransientError,
    check_window,
    sorted_points,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.monitor import MonitorManagementClient
    from azure.mgmt.monitor.models import Response

SYSTEM = "azure-monitor"
MAX_METRICS_PER_CALL = 20  # metrics.list accepts at most 20 comma-separated metric names
AGGREGATIONS = ("Average", "Minimum", "Maximum", "Total", "Count")
# The time grains Azure Monitor serves; anything else is refused unless auto-adjusted.
TIME_GRAINS = {
    timedelta(minutes=1): "PT1M",
    timedelta(minutes=5): "PT5M",
    timedelta(minutes=15): "PT15M",
    timedelta(minutes=30): "PT30M",
    timedelta(hours=1): "PT1H",
    timedelta(hours=6): "PT6H",
    timedelta(hours=12): "PT12H",
    timedelta(days=1): "P1D",
}
# metrics.list ignores the client's subscription (the resource URI is absolute), but the client
# constructor insists on one.
_UNUSED_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class AzureMetricQuery:
    """Metrics of one resource (an ARM id). `filter` is Azure Monitor's `$filter` on dimensions,
    e.g. `Instance eq '*'` for one series per instance."""

    resource_uri: str
    metric_names: tuple[str, ...]
    aggregation: str = "Average"
    metric_namespace: str | None = None
    filter: str | None = None
    top: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.metric_names, str) or not self.metric_names:
            raise ValueError("metric_names must be a non-empty tuple of names")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {self.aggregation!r}")


def azure_series_key(
    resource_uri: str, metric_name: str, aggregation: str, dimensions: Mapping[str, str]
) -> str:
    """e.g. `azure//subscriptions/s/resourcegroups/rg/providers/microsoft.web/sites/app/CpuTime/Total`.

    ARM ids are case-insensitive and alert payloads lower-case them, so the id is lower-cased here.
    """
    dims = ",".join(f"{k}={v}" for k, v in sorted(dimensions.items()))
    resource = "/" + resource_uri.strip("/").lower()
    return "/".join(["azure" + resource, metric_name, *([dims] if dims else []), aggregation])


def dimension_filter(dimensions: Mapping[str, str]) -> str | None:
    """`{"Instance": "a"}` -> `Instance eq 'a'` (the `$filter` syntax); None for no dimensions."""
    if not dimensions:
        return None
    return " and ".join(f"{k} eq '{v.replace(chr(39), chr(39) * 2)}'" for k, v in sorted(dimensions.items()))


class AzureMonitorMetricSource(MetricSourceBase):
    """`MetricSource[AzureMetricQuery]`. `credential` defaults to `DefaultAzureCredential`."""

    system = SYSTEM

    def __init__(
        self,
        settings: AzureSettings | None = None,
        *,
        credential: TokenCredential | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = utc_now,
        unhealthy_after: int = 1,
    ) -> None:
        self.settings = settings or AzureSettings()
        self._credential = credential
        self._client: MonitorManagementClient | None = None
        # api_calls: one per HTTP request (azure-core does not retry)
        super().__init__(
            attempts=self.settings.max_retries + 1, retry=retry, clock=clock, unhealthy_after=unhealthy_after
        )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def fetch(
        self, queries: Sequence[AzureMetricQuery], start: datetime, end: datetime, period: timedelta
    ) -> list[MetricSeries]:
        """One series per metric and dimension combination Azure returns, in query order."""
        start, end = check_window(start, end, period)
        interval = _time_grain(period)
        with self.recording_health():
            series: list[MetricSeries] = []
            for query in queries:
                names = query.metric_names
                for offset in range(0, len(names), MAX_METRICS_PER_CALL):
                    chunk = names[offset : offset + MAX_METRICS_PER_CALL]
                    response = self._list(query, chunk, start, end, interval)
                    series.extend(_to_series(query, response))
        return series

    def fetch_alert_metric(
        self,
        resource_uri: str,
        metric_name: str,
        aggregation: str | None,
        start: datetime,
        end: datetime,
        period: timedelta,
        *,
        metric_namespace: str | None = None,
        dimensions: Mapping[str, str] | None = None,
    ) -> MetricSeries:
        """The series behind an Azure Monitor metric alert; empty when Azure has no data."""
        query = AzureMetricQuery(
            resource_uri,
            (metric_name,),
            _aggregation(aggregation or "Average"),
            metric_namespace=metric_namespace,
            filter=dimension_filter(dimensions or {}),
        )
        found = self.fetch([query], start, end, period)
        if found:
            return found[0]
        key = azure_series_key(resource_uri, metric_name, query.aggregation, dimensions or {})
        return MetricSeries(key, [], [], labels={"resource_id": resource_uri, **(dimensions or {})})

    # ------------------------------------------------------------------ plumbing

    def _list(
        self, query: AzureMetricQuery, names: Sequence[str], start: datetime, end: datetime, interval: str
    ) -> Response:
        client = self._monitor_client()
        operation = f"metrics.list {query.resource_uri}"

        def attempt() -> Response:
            self.api_calls["metrics.list"] += 1
            try:
                return client.metrics.list(
                    # The URL template is "/{resourceUri}/providers/..."; a leading "/" would double.
                    resource_uri=query.resource_uri.strip("/"),
                    timespan=f"{_iso(start)}/{_iso(end)}",
                    interval=interval,
                    metricnames=",".join(names),
                    aggregation=query.aggregation,
                    metricnamespace=query.metric_namespace,
                    filter=query.filter,
                    top=query.top,
                )
            except AzureError as error:
                mapped = to_integration_error(error, operation)
                if mapped.retryable:
                    raise TransientError(str(mapped), retry_after=_retry_after(error)) from error
                mapped.system = SYSTEM
                raise mapped from error

        return self.with_retry(operation, attempt)

    def _monitor_client(self) -> MonitorManagementClient:
        with self._lock:
            if self._client is None:
                from azure.mgmt.monitor import MonitorManagementClient

                if self._credential is None:
                    from integrations.azure.appservice import default_credential

                    self._credential = default_credential(self.settings)
                endpoint = self.settings.arm_endpoint
                options: dict[str, Any] = {
                    **self.settings.transport_options(),
                    "retry_total": 0,  # call_with_retry does the retrying
                }
                if "connection_verify" not in options and os.environ.get("REQUESTS_CA_BUNDLE"):
                    options["connection_verify"] = os.environ["REQUESTS_CA_BUNDLE"]
                self._client = MonitorManagementClient(
                    self._credential,
                    _UNUSED_SUBSCRIPTION,
                    base_url=endpoint,
                    # The token scope follows the endpoint (sovereign clouds), not the SDK's default cloud.
                    credential_scopes=[f"{endpoint}/.default"],
                    **options,
                )
            return self._client


def _to_series(query: AzureMetricQuery, response: Response) -> list[MetricSeries]:
    field_name = query.aggregation.lower()  # "Average" -> MetricValue.average
    series: list[MetricSeries] = []
    for metric in response.value:
        name = metric.name.value or ""
        if metric.error_code not in (None, "", "Success"):
            raise IntegrationError(
                f"azure monitor {query.resource_uri} {name}: {metric.error_code} {metric.error_message}",
                system=SYSTEM,
            )
        for element in metric.timeseries or []:
            dims = {
                (mv.name.value if mv.name else "") or "": mv.value or ""
                for mv in element.metadatavalues or []
            }
            points = [
                (value.time_stamp, float(raw))
                for value in element.data or []
                if (raw := getattr(value, field_name)) is not None  # Azure leaves a gap as a bare timestamp
            ]
            timestamps, values = sorted_points(points)
            series.append(
                MetricSeries(
                    key=azure_series_key(query.resource_uri, name, query.aggregation, dims),
                    timestamps=timestamps,
                    values=values,
                    unit=str(metric.unit) if metric.unit else None,
                    labels={"resource_id": query.resource_uri, **dims},
                )
            )
    return series


def _retry_after(error: AzureError) -> float | None:
    """Seconds from `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    response = getattr(error, "response", None) if isinstance(error, HttpResponseError) else None
    if response is None:
        return None
    headers = response.headers
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if headers.get(name):
            try:
                return float(headers[name]) / 1000
            except ValueError:
                pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def _aggregation(statistic: str) -> str:
    """Alert payloads say `Average`, `Total`, `Sum`, `Max`...; metrics.list wants one of AGGREGATIONS."""
    aliases = {"avg": "Average", "mean": "Average", "sum": "Total", "min": "Minimum", "max": "Maximum"}
    text = statistic.strip()
    for known in AGGREGATIONS:
        if text.lower() == known.lower():
            return known
    return aliases.get(text.lower(), text)


def _time_grain(period: timedelta) -> str:
    grain = TIME_GRAINS.get(period)
    if grain is None:
        allowed = ", ".join(TIME_GRAINS.values())
        raise ValueError(f"Azure Monitor period must be one of {allowed}, not {period}")
    return grain


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
