"""A recording fake of Azure Monitor's ARM metrics API, served over HTTPS.

Answers `GET /{resourceUri}/providers/Microsoft.Insights/metrics?api-version=...` (what
azure-mgmt-monitor's `metrics.list` sends) with the real JSON shape: `value[].timeseries[].data[]`
with `timeStamp` and one field per requested aggregation, one entry per time grain of the timespan
(a grain without data is a bare `timeStamp`, as Azure sends it). Tests set state directly::

    with FakeAzureMonitor(tls=test_tls.server_context) as monitor:
        monitor.metrics.add(SITE_ID, "CpuTime", [(t0, 1.0), (t1, 2.0)], unit="Seconds")
        source = AzureMonitorMetricSource(AzureSettings(arm_endpoint=monitor.url, ca_bundle=ca),
                                          credential=FakeCredential())

The routes can also be mounted on another ARM fake (`AzureMetricsStore.install(FakeAzureArm(...))`),
since the metrics API lives on the same ARM endpoint as Microsoft.Web.
"""

from __future__ import annotations

import re
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.azure_arm import FakeCredential, arm_error
from tests.fakes.http_server import FakeService, RecordedRequest, Reply

__all__ = ["AzureMetricsStore", "FakeAzureMonitor", "FakeCredential"]

METRICS_PATH = r"/(?P<resource>.+)/providers/Microsoft\.Insights/metrics"
_DURATION = re.compile(r"P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?\Z")


@dataclass
class FakeSeries:
    dimensions: dict[str, str]
    points: list[tuple[datetime, float]]


@dataclass
class FakeMetric:
    name: str
    unit: str
    series: list[FakeSeries] = field(default_factory=list)


class AzureMetricsStore:
    """Metrics per resource id (case-insensitive, like ARM) and the route that serves them."""

    def __init__(self, *, namespace: str = "Microsoft.Web/sites", region: str = "westeurope") -> None:
        self.namespace = namespace
        self.region = region
        self._metrics: dict[str, dict[str, FakeMetric]] = {}
        self._lock = threading.Lock()

    def add(
        self,
        resource_uri: str,
        name: str,
        points: list[tuple[datetime, float]],
        *,
        unit: str = "Percent",
        dimensions: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            metrics = self._metrics.setdefault(_resource_key(resource_uri), {})
            metric = metrics.setdefault(name, FakeMetric(name, unit))
            metric.series.append(FakeSeries(dict(dimensions or {}), list(points)))

    def add_resource(self, resource_uri: str) -> None:
        """A resource that exists but has no metrics yet."""
        with self._lock:
            self._metrics.setdefault(_resource_key(resource_uri), {})

    def install(self, service: FakeService) -> None:
        service.route("GET", METRICS_PATH)(self.handle)

    def handle(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        resource = "/" + match["resource"].strip("/")
        with self._lock:
            metrics = self._metrics.get(_resource_key(resource))
        if metrics is None:
            return arm_error(404, "ResourceNotFound", f"The Resource '{resource}' was not found.")
        names = [n for n in _param(req, "metricnames", "").split(",") if n]
        unknown = [n for n in names if n not in metrics]
        if unknown or not names:
            valid = ", ".join(sorted(metrics))
            return arm_error(
                400,
                "BadRequest",
                f"Failed to find metric configuration for metric: {unknown}, Valid metrics: {valid}",
            )
        aggregations = [a.strip().lower() for a in _param(req, "aggregation", "average").split(",")]
        interval = _param(req, "interval", "PT1M")
        step = _duration(interval)
        start_text, end_text = _param(req, "timespan", "").split("/")
        start, end = _parse_time(start_text), _parse_time(end_text)
        value = [self._metric_json(resource, metrics[n], aggregations, start, end, step) for n in names]
        body = {
            "cost": 0,
            "timespan": f"{_iso(start)}/{_iso(end)}",
            "interval": interval,
            "value": value,
            "namespace": self.namespace,
            "resourceregion": self.region,
        }
        return Reply(200, body)

    def _metric_json(
        self,
        resource: str,
        metric: FakeMetric,
        aggregations: list[str],
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> dict[str, Any]:
        timeseries = []
        for series in metric.series:
            data = []
            moment = start
            while moment < end:
                values = [v for t, v in series.points if moment <= t < moment + step]
                entry: dict[str, Any] = {"timeStamp": _iso(moment)}
                if values:
                    entry.update({a: _aggregate(a, values) for a in aggregations})
                data.append(entry)
                moment += step
            metadata = [
                {"name": {"value": k, "localizedValue": k}, "value": v} for k, v in series.dimensions.items()
            ]
            timeseries.append({"metadatavalues": metadata, "data": data})
        return {
            "id": f"{resource}/providers/Microsoft.Insights/metrics/{metric.name}",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": metric.name, "localizedValue": metric.name},
            "displayDescription": "",
            "unit": metric.unit,
            "timeseries": timeseries,
            "errorCode": "Success",
        }


@dataclass
class _Failure:
    status: int
    code: str
    message: str
    headers: dict[str, str]
    times: int


class FakeAzureMonitor(FakeService):
    """A standalone ARM endpoint serving only the metrics API; every request is recorded."""

    def __init__(self, *, tls: ssl.SSLContext) -> None:
        super().__init__(tls=tls)
        self.metrics = AzureMetricsStore()
        self.metrics.install(self)
        self._failures: list[_Failure] = []
        self._failure_lock = threading.Lock()

    def fail_next(
        self,
        status: int,
        *,
        code: str = "",
        message: str = "",
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests with `status` and an ARM error body."""
        with self._failure_lock:
            self._failures.append(
                _Failure(
                    status, code or f"Fake{status}", message or f"injected {status}", headers or {}, times
                )
            )

    def metric_calls(self) -> list[RecordedRequest]:
        return self.calls("GET", "/providers/Microsoft.Insights/metrics")

    def _dispatch(self, req: RecordedRequest) -> Reply:
        if not req.headers.get("authorization", "").startswith("Bearer "):
            return arm_error(401, "AuthenticationFailed", "missing bearer token")
        if "api-version" not in req.query:
            return arm_error(400, "MissingApiVersionParameter", "api-version is required")
        with self._failure_lock:
            failure = self._failures[0] if self._failures else None
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
        if failure is not None:
            reply = arm_error(failure.status, failure.code, failure.message)
            reply.headers.update(failure.headers)
            return reply
        return super()._dispatch(req)


def _param(req: RecordedRequest, name: str, default: str) -> str:
    for key, values in req.query.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return default


def _resource_key(resource_uri: str) -> str:
    return "/" + resource_uri.strip("/").lower()


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"fake understands only simple ISO 8601 durations, not {text!r}")
    parts = {k: int(v) for k, v in match.groupdict(default="0").items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def _aggregate(aggregation: str, values: list[float]) -> float:
    if aggregation == "average":
        return sum(values) / len(values)
    if aggregation == "minimum":
        return min(values)
    if aggregation == "maximum":
        return max(values)
    if aggregation == "total":
        return sum(values)
    if aggregation == "count":
        return float(len(values))
    raise ValueError(f"unknown aggregation {aggregation!r}")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
