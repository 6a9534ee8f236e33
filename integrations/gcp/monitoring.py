"""Google Cloud Monitoring as a `MetricSource`, through `MetricServiceClient.list_time_series`.

Pages are fetched one at a time (`page_token` <- `next_page_token`) so that a transient failure
retries only the page that failed, not every page before it; the SDK's own retry is off
(`retry=None`) and `call_with_retry` retries UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
INTERNAL and ABORTED with an injectable wait. PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND,
UNAUTHENTICATED and credential errors are permanent.

The API returns points newest first; series come back oldest first. Aligned points are stamped with
the end of their alignment period, as Cloud Monitoring stamps them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.cloud.monitoring_v3 import types as mtypes

from bot.clock import Clock, utc_now
from bot.errors import IntegrationError
from detectors.series import MetricSeries
from integrations.gcp.settings import CloudMonitoringSettings
from integrations.metrics import (
    MetricSourceBase,
    RetryPolicy,
    TransientError,
    check_window,
    sorted_points,
)

if TYPE_CHECKING:
    from google.cloud.monitoring_v3 import MetricServiceClient

SYSTEM = "cloud-monitoring"
_TRANSIENT = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.ResourceExhausted,
    gexc.InternalServerError,
    gexc.Aborted,
    gexc.TooManyRequests,
    gexc.BadGateway,
    gexc.GatewayTimeout,
    gexc.RetryError,
    auth_exc.TransportError,
)
T = TypeVar("T")


def is_known_aligner(name: str) -> bool:
    """A Cloud Monitoring aligner name (`ALIGN_MEAN`, `ALIGN_MAX`, ...), as the API spells it."""
    return name in mtypes.Aggregation.Aligner.__members__


@dataclass(frozen=True, slots=True)
class GcpMetricQuery:
    """Time series of one metric type in one project, narrowed by exact label matches.

    `label_filters` keys use the filter language's selectors, e.g. `resource.labels.instance_id` or
    `metric.labels.response_code`; `extra_filter` is ANDed in verbatim for anything else.
    `per_series_aligner=None` returns raw points (no aggregation).
    """

    project_id: str
    metric_type: str
    resource_type: str | None = None
    label_filters: Mapping[str, str] = field(default_factory=dict)
    per_series_aligner: str | None = "ALIGN_MEAN"
    cross_series_reducer: str | None = None
    group_by_fields: tuple[str, ...] = ()
    extra_filter: str | None = None

    def __post_init__(self) -> None:
        if (
            self.per_series_aligner is not None
            and self.per_series_aligner not in mtypes.Aggregation.Aligner.__members__
        ):
            raise ValueError(f"unknown per_series_aligner {self.per_series_aligner!r}")
        reducers = mtypes.Aggregation.Reducer.__members__
        if self.cross_series_reducer is not None and self.cross_series_reducer not in reducers:
            raise ValueError(f"unknown cross_series_reducer {self.cross_series_reducer!r}")

    def filter(self) -> str:
        clauses = [f"metric.type = {_quote(self.metric_type)}"]
        if self.resource_type:
            clauses.append(f"resource.type = {_quote(self.resource_type)}")
        clauses += [f"{k} = {_quote(v)}" for k, v in sorted(self.label_filters.items())]
        if self.extra_filter:
            clauses.append(f"({self.extra_filter})")
        return " AND ".join(clauses)


def gcp_series_key(project_id: str, metric_type: str, labels: Mapping[str, str], aggregation: str) -> str:
    """e.g. `gcp/proj/compute.googleapis.com/instance/cpu/utilization/resource.labels.zone=a/ALIGN_MEAN`."""
    dims = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return "/".join(["gcp", project_id, metric_type, *([dims] if dims else []), aggregation])


class CloudMonitoringMetricSource(MetricSourceBase):
    """`MetricSource[GcpMetricQuery]`. `client` defaults to `MetricServiceClient()` (ADC), built lazily."""

    system = SYSTEM

    def __init__(
        self,
        settings: CloudMonitoringSettings | None = None,
        *,
        client: MetricServiceClient | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = utc_now,
        unhealthy_after: int = 1,
    ) -> None:
        self.settings = settings or CloudMonitoringSettings()
        self._client = client
        # api_calls: one per RPC (the SDK's retry is off)
        super().__init__(
            attempts=self.settings.max_attempts, retry=retry, clock=clock, unhealthy_after=unhealthy_after
        )

    def fetch(
        self, queries: Sequence[GcpMetricQuery], start: datetime, end: datetime, period: timedelta
    ) -> list[MetricSeries]:
        """One series per time series the API returns, in query order then API order."""
        start, end = check_window(start, end, period)
        if period.total_seconds() < 1 or period.total_seconds() != int(period.total_seconds()):
            raise ValueError(f"Cloud Monitoring alignment period must be whole seconds, not {period}")
        with self.recording_health():
            series: list[MetricSeries] = []
            for query in queries:
                request = _request(query, start, end, period, self.settings.page_size)
                aggregation = query.per_series_aligner or "RAW"
                if query.cross_series_reducer:
                    aggregation += "+" + query.cross_series_reducer
                for page in self._pages(request):
                    series += [_to_series(query.project_id, ts, aggregation) for ts in page]
        return series

    def fetch_alert_metric(
        self,
        project_id: str,
        metric_type: str,
        start: datetime,
        end: datetime,
        period: timedelta,
        *,
        resource_type: str | None = None,
        resource_labels: Mapping[str, str] | None = None,
        metric_labels: Mapping[str, str] | None = None,
        per_series_aligner: str = "ALIGN_MEAN",
    ) -> MetricSeries:
        """The series behind a Cloud Monitoring alert policy's condition; empty when there is no data."""
        filters = {f"resource.labels.{k}": v for k, v in (resource_labels or {}).items()}
        filters |= {f"metric.labels.{k}": v for k, v in (metric_labels or {}).items()}
        query = GcpMetricQuery(project_id, metric_type, resource_type, filters, per_series_aligner)
        found = self.fetch([query], start, end, period)
        if found:
            return found[0]
        labels = dict(filters) | ({"resource.type": resource_type} if resource_type else {})
        return MetricSeries(
            gcp_series_key(project_id, metric_type, labels, per_series_aligner), [], [], labels=labels
        )

    # ------------------------------------------------------------------ plumbing

    def _pages(self, request: mtypes.ListTimeSeriesRequest) -> Iterator[Sequence[mtypes.TimeSeries]]:
        client = self._monitoring_client()
        token = ""
        while True:
            page_request = mtypes.ListTimeSeriesRequest(request)
            page_request.page_token = token

            def call(page_request: mtypes.ListTimeSeriesRequest = page_request) -> Any:
                # The pager holds the first page's response; reading its fields fetches nothing more.
                pager = client.list_time_series(
                    request=page_request, retry=None, timeout=self.settings.timeout_s
                )
                return list(pager.time_series), pager.next_page_token

            series, token = self._call(f"list_time_series {request.name}", call)
            yield series
            if not token:
                return

    def _call(self, operation: str, call: Callable[[], T]) -> T:
        def attempt() -> T:
            self.api_calls["ListTimeSeries"] += 1
            try:
                return call()
            except _TRANSIENT as error:
                raise TransientError(f"{type(error).__name__}: {error}") from error
            except (gexc.GoogleAPIError, auth_exc.GoogleAuthError) as error:
                raise IntegrationError(
                    f"{SYSTEM} {operation}: {type(error).__name__}: {error}", system=SYSTEM
                ) from error

        return self.with_retry(operation, attempt)

    def _monitoring_client(self) -> MetricServiceClient:
        with self._lock:
            if self._client is None:
                from google.cloud.monitoring_v3 import MetricServiceClient

                try:
                    self._client = MetricServiceClient()
                except auth_exc.GoogleAuthError as error:  # no Application Default Credentials
                    raise IntegrationError(f"{SYSTEM}: {error}", system=SYSTEM) from error
            return self._client


def _request(
    query: GcpMetricQuery, start: datetime, end: datetime, period: timedelta, page_size: int | None
) -> mtypes.ListTimeSeriesRequest:
    request = mtypes.ListTimeSeriesRequest(
        name=f"projects/{query.project_id}",
        filter=query.filter(),
        interval=mtypes.TimeInterval(start_time=start, end_time=end),
        view=mtypes.ListTimeSeriesRequest.TimeSeriesView.FULL,
    )
    if query.per_series_aligner:
        request.aggregation = mtypes.Aggregation(
            alignment_period=period,
            per_series_aligner=mtypes.Aggregation.Aligner.__members__[query.per_series_aligner],
            cross_series_reducer=mtypes.Aggregation.Reducer.__members__[
                query.cross_series_reducer or "REDUCE_NONE"
            ],
            group_by_fields=list(query.group_by_fields),
        )
    if page_size:
        request.page_size = page_size
    return request


def _to_series(project_id: str, ts: mtypes.TimeSeries, aggregation: str) -> MetricSeries:
    labels = {"resource.type": ts.resource.type} if ts.resource.type else {}
    labels |= {f"resource.labels.{k}": v for k, v in ts.resource.labels.items()}
    labels |= {f"metric.labels.{k}": v for k, v in ts.metric.labels.items()}
    points = []
    for point in ts.points:
        value = _number(point.value)
        if value is not None:
            points.append((point.interval.end_time, value))
    timestamps, values = sorted_points(points)
    return MetricSeries(
        key=gcp_series_key(project_id, ts.metric.type, labels, aggregation),
        timestamps=timestamps,
        values=values,
        unit=ts.unit or None,
        labels=labels,
    )


def _number(value: mtypes.TypedValue) -> float | None:
    kind = mtypes.TypedValue.pb(value).WhichOneof("value")
    if kind == "double_value":
        return float(value.double_value)
    if kind == "int64_value":
        return float(value.int64_value)
    if kind == "bool_value":
        return 1.0 if value.bool_value else 0.0
    if kind == "distribution_value":
        return float(value.distribution_value.mean)
    return None  # string values (and unset ones) are not numbers


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
