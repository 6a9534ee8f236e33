"""CloudWatch as a `MetricSource`: GetMetricData, batched and paginated.

Two kinds of query:

- `CloudWatchMetricQuery` names one metric exactly (namespace, name, dimensions, statistic). It always
  yields exactly one series, empty when CloudWatch has no data for it.
- `CloudWatchSearch` selects every metric of a schema, like
  `SEARCH('{AWS/EC2,InstanceId} MetricName="CPUUtilization"', 'Average', 300)`.
  With `selection="search"` (the default, for real AWS) the SEARCH expression goes to GetMetricData
  as is, with a dynamic label that spells out each result's dimensions. With
  `selection="list_metrics"` the metrics are found with ListMetrics (paginated) and fetched as
  explicit queries: that is what moto supports (moto answers SEARCH with one empty result), and it
  also suits accounts whose IAM policy allows ListMetrics but whose queries must stay explicit.

What moto 5.2 does (the tests' backend): GetMetricData with MetricStat works but never paginates
(no NextToken) and does not enforce the 500-query limit; SEARCH comes back as one empty result whose
label is the unrendered template; ListMetrics paginates at 500 and may list a multi-dimension metric
once per datapoint (deduplicated below). The tests put a proxy in front of moto for throttling,
NextToken pages and canned SEARCH answers (tests/fakes/cloudwatch_throttle.py).

Each GetMetricData call carries at most 500 queries; pages come from boto3's paginators. This is
the one retry layer of these calls: botocore's own retries are off (`max_attempts=1`) and
`call_with_retry` retries throttling and transient errors, page by page, with injectable waits.
`api_calls` counts every HTTP request sent, per operation (retries included).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from bot.clock import Clock, utc_now
from bot.errors import IntegrationError
from detectors.series import MetricSeries
from integrations.aws.cloudwatch_queries import (
    CloudWatchMetricQuery,
    CloudWatchQuery,
    CloudWatchSearch,
    cloudwatch_series_key,
    normalize_statistic,
    period_seconds,
    resolve_region,
)
from integrations.aws.session import make_client, resumable_pages
from integrations.aws.settings import AwsSettings, CloudWatchSettings
from integrations.metrics import (
    MetricSourceBase,
    RetryPolicy,
    TransientError,
    check_window,
    sorted_points,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef, MetricDataResultTypeDef

log = logging.getLogger(__name__)

SYSTEM = "cloudwatch"
MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit on MetricDataQueries
_QUERY_ID = re.compile(r"[a-z][a-zA-Z0-9_]*\Z")
_THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
     "RequestThrottledException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
)  # fmt: skip
_TRANSIENT_CODES = frozenset(
    {"InternalFailure", "InternalError", "InternalServiceError", "ServiceUnavailable"}
)
_LABEL_SEP = "\u241f"  # SYMBOL FOR UNIT SEPARATOR: cannot clash with a metric name or dimension value
T = TypeVar("T")


class CloudWatchMetricSource(MetricSourceBase):
    """`MetricSource[CloudWatchQuery]` over boto3 (`AWS_ENDPOINT_URL` points it at moto in tests).

    `client` replaces the boto3 client built from `aws` (region, endpoint, timeouts).
    """

    system = SYSTEM

    def __init__(
        self,
        settings: CloudWatchSettings | None = None,
        *,
        aws: AwsSettings | None = None,
        client: CloudWatchClient | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = utc_now,
        unhealthy_after: int = 1,
    ) -> None:
        self.settings = settings or CloudWatchSettings()
        if client is None:
            aws = aws or AwsSettings()
            self.region = resolve_region(aws)
            # call_with_retry is these calls' retry layer: botocore sends each request once.
            client = make_client("cloudwatch", aws, region=self.region, max_attempts=1)
        else:
            self.region = client.meta.region_name
        self._client = client
        # api_calls: per operation, every request on the wire
        super().__init__(
            attempts=self.settings.max_attempts, retry=retry, clock=clock, unhealthy_after=unhealthy_after
        )
        client.meta.events.register(
            f"before-send.{client.meta.service_model.service_id.hyphenize()}", self._count
        )

    def fetch(
        self, queries: Sequence[CloudWatchQuery], start: datetime, end: datetime, period: timedelta
    ) -> list[MetricSeries]:
        """Explicit queries first (one series each, in order), then each search's matches."""
        start, end = check_window(start, end, period)
        period_seconds(period)
        with self.recording_health():
            explicit = [q for q in queries if isinstance(q, CloudWatchMetricQuery)]
            searches = [q for q in queries if isinstance(q, CloudWatchSearch)]
            found: list[MetricSeries] = []
            if self.settings.selection == "list_metrics":
                for search in searches:
                    explicit.extend(self._list_matching(search))
            else:
                for search in searches:
                    found.extend(self._run_search(search, start, end, period))
            series = self._get_explicit(explicit, start, end, period) + found
        return series

    def fetch_alert_metric(
        self,
        namespace: str,
        metric_name: str,
        dimensions: Mapping[str, str],
        statistic: str | None,
        start: datetime,
        end: datetime,
        period: timedelta,
    ) -> MetricSeries:
        """The series behind a CloudWatch alarm (a NormalizedAlert's `metric`), empty if it has no data."""
        query = CloudWatchMetricQuery(
            namespace, metric_name, dict(dimensions), normalize_statistic(statistic or "Average")
        )
        return self.fetch([query], start, end, period)[0]

    # ------------------------------------------------------------------ GetMetricData

    def _get_explicit(
        self, queries: list[CloudWatchMetricQuery], start: datetime, end: datetime, period: timedelta
    ) -> list[MetricSeries]:
        series: list[MetricSeries] = []
        for offset in range(0, len(queries), MAX_QUERIES_PER_CALL):
            batch = {
                _query_id("m", i): q for i, q in enumerate(queries[offset : offset + MAX_QUERIES_PER_CALL])
            }
            points: dict[str, list[tuple[datetime, float]]] = {qid: [] for qid in batch}
            wire = [_metric_stat_query(qid, q, period) for qid, q in batch.items()]
            for result in self._get_metric_data(wire, start, end):
                if result["Id"] in points:
                    points[result["Id"]].extend(zip(result["Timestamps"], result["Values"], strict=True))
            series += [self._series(q, points[qid]) for qid, q in batch.items()]
        return series

    def _run_search(
        self, search: CloudWatchSearch, start: datetime, end: datetime, period: timedelta
    ) -> list[MetricSeries]:
        # One SEARCH per call: a search alone may return up to 500 series, GetMetricData's limit.
        label = _LABEL_SEP.join(
            ["${PROP('MetricName')}", *(f"${{PROP('Dim.{name}')}}" for name in search.dimension_names)]
        )
        wire: MetricDataQueryTypeDef = {
            "Id": _query_id("s", 0),
            "Expression": search.expression(period),
            "Period": period_seconds(period),
            "Label": label,
            "ReturnData": True,
        }
        by_label: dict[str, list[tuple[datetime, float]]] = {}
        for result in self._get_metric_data([wire], start, end):
            pts = by_label.setdefault(result.get("Label", ""), [])
            pts.extend(zip(result["Timestamps"], result["Values"], strict=True))
        series = []
        for text, pts in by_label.items():
            parts = text.split(_LABEL_SEP)
            if "${PROP(" in text or len(parts) != 1 + len(search.dimension_names) or not parts[0]:
                # An unrendered label is an empty answer (moto's, or a search matching nothing).
                if pts:
                    log.warning("cloudwatch SEARCH result with an unexpected label %r skipped", text)
                continue
            dims = dict(zip(search.dimension_names, parts[1:], strict=True))
            query = CloudWatchMetricQuery(search.namespace, parts[0], dims, search.stat)
            series.append(self._series(query, pts))
        return series

    def _get_metric_data(
        self, wire: list[MetricDataQueryTypeDef], start: datetime, end: datetime
    ) -> Iterator[MetricDataResultTypeDef]:
        kwargs: dict[str, Any] = {
            "MetricDataQueries": wire,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        if self.settings.max_datapoints:
            kwargs["MaxDatapoints"] = self.settings.max_datapoints
        for page in self._pages("GetMetricData", "get_metric_data", kwargs):
            for result in page["MetricDataResults"]:
                _check_status(result)
            for message in page.get("Messages", []):
                log.warning("cloudwatch GetMetricData: %s %s", message.get("Code"), message.get("Value"))
            yield from page["MetricDataResults"]

    # ------------------------------------------------------------------ ListMetrics

    def _list_matching(self, search: CloudWatchSearch) -> list[CloudWatchMetricQuery]:
        kwargs: dict[str, Any] = {"Namespace": search.namespace}
        if search.metric_name:
            kwargs["MetricName"] = search.metric_name
        if search.dimension_names:
            kwargs["Dimensions"] = [
                {"Name": n, "Value": search.dimension_values[n]}
                if n in search.dimension_values
                else {"Name": n}
                for n in search.dimension_names
            ]
        wanted = set(search.dimension_names)
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        found: list[CloudWatchMetricQuery] = []
        for page in self._pages("ListMetrics", "list_metrics", kwargs):
            for metric in page.get("Metrics", []):
                dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                ident = (metric["MetricName"], tuple(sorted(dims.items())))
                # SEARCH's schema matches metrics with exactly these dimension names; ListMetrics also
                # returns metrics with more. ListMetrics may repeat a metric (moto does): dedupe.
                if set(dims) != wanted or ident in seen:
                    continue
                seen.add(ident)
                found.append(CloudWatchMetricQuery(search.namespace, metric["MetricName"], dims, search.stat))
        return found

    # ------------------------------------------------------------------ plumbing

    def _series(self, query: CloudWatchMetricQuery, points: list[tuple[datetime, float]]) -> MetricSeries:
        timestamps, values = sorted_points(points)
        key = cloudwatch_series_key(
            query.namespace, query.metric_name, query.dimensions, query.stat, region=self.region
        )
        return MetricSeries(key, timestamps, values, unit=query.unit, labels=dict(query.dimensions))

    def _pages(self, operation: str, method: str, kwargs: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Every page of `operation`, each fetched (and retried) on its own."""
        paginator = self._client.get_paginator(method)  # type: ignore[call-overload]
        return resumable_pages(paginator, kwargs, call=lambda page: self._call(operation, page))

    def _call(self, operation: str, call: Callable[[], T]) -> T:
        def attempt() -> T:
            try:
                return call()
            except ClientError as error:
                raise _classify_client_error(error, operation) from error
            except (BotoConnectionError, HTTPClientError) as error:
                raise TransientError(f"{type(error).__name__}: {error}") from error
            except BotoCoreError as error:  # no credentials, invalid parameters, ...
                raise IntegrationError(f"cloudwatch {operation}: {error}", system=SYSTEM) from error

        return self.with_retry(operation, attempt)

    def _count(self, event_name: str = "", **_: Any) -> None:
        self.api_calls[event_name.rsplit(".", 1)[-1]] += 1


def _classify_client_error(error: ClientError, operation: str) -> Exception:
    info = error.response.get("Error", {})
    code = info.get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    message = f"{code or status}: {info.get('Message', '')}"
    if code in _THROTTLING_CODES or code in _TRANSIENT_CODES or status == 429 or status >= 500:
        return TransientError(message)
    return IntegrationError(f"cloudwatch {operation} refused: {message}", retryable=False, system=SYSTEM)


def _check_status(result: MetricDataResultTypeDef) -> None:
    status = result.get("StatusCode", "Complete")
    if status == "InternalError":
        raise TransientError(f"GetMetricData result {result['Id']}: InternalError")
    if status == "Forbidden":
        details = "; ".join(f"{m.get('Code')}: {m.get('Value')}" for m in result.get("Messages", []))
        raise IntegrationError(
            f"cloudwatch GetMetricData result {result['Id']} forbidden: {details}", system=SYSTEM
        )


def _metric_stat_query(qid: str, query: CloudWatchMetricQuery, period: timedelta) -> MetricDataQueryTypeDef:
    # Dimensions sorted by name: CloudWatch does not care, and a stable request is easier to test.
    stat: Any = {
        "Metric": {
            "Namespace": query.namespace,
            "MetricName": query.metric_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(query.dimensions.items())],
        },
        "Period": period_seconds(period),
        "Stat": query.stat,
    }
    if query.unit:
        stat["Unit"] = query.unit
    return {"Id": qid, "MetricStat": stat, "ReturnData": True}


def _query_id(prefix: str, index: int) -> str:
    qid = f"{prefix}{index}"
    if not _QUERY_ID.match(qid):  # GetMetricData: starts with a lowercase letter, then [a-zA-Z0-9_]
        raise ValueError(f"invalid GetMetricData query id {qid!r}")
    return qid
