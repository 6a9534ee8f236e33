"""A local gRPC Cloud Monitoring: `google.monitoring.v3.MetricService/ListTimeSeries` only.

Built from `grpc.method_handlers_generic_handler` with the proto-plus classes' own
`serialize`/`deserialize`, so no generated stubs are needed. It records every request, pages its
answer (`page_size` series per page, `next_page_token` until the last), returns points newest
first as the API does, and evaluates the AND-of-equalities filters the bot sends
(`metric.type = "..." AND resource.labels.zone = "..."`). Hand the client an insecure channel::

    channel = grpc.insecure_channel(fake.address)
    client = MetricServiceClient(transport=MetricServiceGrpcTransport(channel=channel))
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import TracebackType
from typing import Any

import grpc
from google.cloud.monitoring_v3 import MetricServiceClient
from google.cloud.monitoring_v3.services.metric_service.transports import MetricServiceGrpcTransport
from google.cloud.monitoring_v3.types import ListTimeSeriesRequest, ListTimeSeriesResponse, Point, TimeSeries

_CLAUSE = re.compile(r'([\w.]+)\s*=\s*"((?:[^"\\]|\\.)*)"')


class FakeCloudMonitoring:
    def __init__(self, *, page_size: int = 2) -> None:
        self.page_size = page_size
        self.requests: list[ListTimeSeriesRequest] = []
        self._series: dict[str, list[TimeSeries]] = {}  # project -> series
        self._failures: list[tuple[grpc.StatusCode, str, str | None]] = []
        self._lock = threading.Lock()
        self._server = grpc.server(ThreadPoolExecutor(max_workers=4))
        handler = grpc.method_handlers_generic_handler(
            "google.monitoring.v3.MetricService",
            {
                "ListTimeSeries": grpc.unary_unary_rpc_method_handler(
                    self._list_time_series,
                    request_deserializer=ListTimeSeriesRequest.deserialize,
                    response_serializer=ListTimeSeriesResponse.serialize,
                )
            },
        )
        self._server.add_generic_rpc_handlers((handler,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ control

    def start(self) -> FakeCloudMonitoring:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None)

    def __enter__(self) -> FakeCloudMonitoring:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def client(self) -> MetricServiceClient:
        """The real client over an insecure channel to this server."""
        channel = grpc.insecure_channel(self.address)
        return MetricServiceClient(transport=MetricServiceGrpcTransport(channel=channel))

    def add(
        self,
        project: str,
        metric_type: str,
        points: list[tuple[datetime, float | int]],
        *,
        resource_type: str = "gce_instance",
        resource_labels: dict[str, str] | None = None,
        metric_labels: dict[str, str] | None = None,
        unit: str = "",
    ) -> None:
        """A time series; `int` values are sent as int64_value, `float` as double_value."""
        newest_first = sorted(points, key=lambda p: p[0], reverse=True)
        series = TimeSeries(
            metric={"type": metric_type, "labels": metric_labels or {}},
            resource={"type": resource_type, "labels": resource_labels or {}},
            unit=unit,
            points=[_point(t, v) for t, v in newest_first],
        )
        with self._lock:
            self._series.setdefault(project, []).append(series)

    def fail_next(
        self,
        code: grpc.StatusCode,
        details: str = "injected",
        *,
        times: int = 1,
        page_token: str | None = None,
    ) -> None:
        """Abort the next `times` requests (only those asking for `page_token`, when given)."""
        with self._lock:
            self._failures.extend([(code, details, page_token)] * times)

    # ------------------------------------------------------------------ serving

    def _list_time_series(self, request: ListTimeSeriesRequest, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.requests.append(request)
            failure = next((f for f in self._failures if f[2] is None or f[2] == request.page_token), None)
            if failure is not None:
                self._failures.remove(failure)
            series = list(self._series.get(request.name.removeprefix("projects/"), []))
        if failure is not None:
            context.abort(failure[0], failure[1])
        clauses = [(k, v.replace('\\"', '"')) for k, v in _CLAUSE.findall(request.filter)]
        if not any(k == "metric.type" for k, _ in clauses):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "filter must name a metric.type")
        start = request.interval.start_time
        end = request.interval.end_time
        matched = []
        for ts in series:
            if all(_selector(ts, key) == value for key, value in clauses):
                points = [
                    p for p in ts.points if start < p.interval.end_time <= end
                ]  # the API's (start, end]
                matched.append(
                    TimeSeries(metric=ts.metric, resource=ts.resource, unit=ts.unit, points=points)
                )
        offset = int(request.page_token or 0)
        page = matched[offset : offset + self.page_size]
        more = offset + self.page_size < len(matched)
        return ListTimeSeriesResponse(
            time_series=page, next_page_token=str(offset + self.page_size) if more else ""
        )


def _selector(ts: TimeSeries, key: str) -> str | None:
    if key == "metric.type":
        return str(ts.metric.type)
    if key == "resource.type":
        return str(ts.resource.type)
    for prefix, labels in (("resource.labels.", ts.resource.labels), ("metric.labels.", ts.metric.labels)):
        if key.startswith(prefix):
            value = labels.get(key.removeprefix(prefix))
            return None if value is None else str(value)
    return None


def _point(moment: datetime, value: float | int) -> Point:
    typed = {"int64_value": value} if isinstance(value, int) else {"double_value": float(value)}
    return Point(interval={"start_time": moment, "end_time": moment}, value=typed)
