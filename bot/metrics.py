"""Prometheus metrics, in a registry per application (so tests can run several apps)."""

from __future__ import annotations

import math
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.exc import SQLAlchemyError

# 10 s to 1 day: remediation in seconds to minutes, humans in minutes to hours.
INCIDENT_BUCKETS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "conductor_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "conductor_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.webhooks = Counter(
            "conductor_webhooks_total",
            "Webhook deliveries by outcome",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.alerts_received = Counter(
            "conductor_alerts_received_total",
            "Normalized alerts received",
            ["source", "status"],
            registry=self.registry,
        )
        self.alerts_unsupported = Counter(
            "conductor_alerts_unsupported_total",
            "Deliveries of an event type the source's parser does not handle (dead-lettered, or a "
            "generic alert for sources that make one)",
            ["source", "type"],
            registry=self.registry,
        )
        self.fields_emptied = Counter(
            "conductor_alert_fields_emptied_total",
            "Malformed optional fields of a delivery that were left empty (array indices as [*])",
            ["source", "field"],
            registry=self.registry,
        )
        self.incidents = Counter(
            "conductor_incident_events_total", "Incident lifecycle events", ["event"], registry=self.registry
        )
        self.runs = Counter(
            "conductor_runs_total", "Runbook runs by final outcome", ["outcome"], registry=self.registry
        )
        self.decisions = Counter(
            "conductor_decisions_total",
            "Pipeline decisions with their named reason",
            ["decision"],
            registry=self.registry,
        )
        # The KPIs' time to acknowledge and time to resolve (docs/kpis.md), observed once per incident
        # opening by the worker that handles its "acknowledged" / "resolved" event.
        self.time_to_acknowledge = Histogram(
            "conductor_time_to_acknowledge_seconds",
            "Incident opened to its first acknowledgement (a person's, or a runbook run starting)",
            registry=self.registry,
            buckets=INCIDENT_BUCKETS,
        )
        self.time_to_resolve = Histogram(
            "conductor_time_to_resolve_seconds",
            "Incident opened to resolved",
            registry=self.registry,
            buckets=INCIDENT_BUCKETS,
        )
        self.queue_depth = Gauge(
            "conductor_work_queue_depth", "Pending work items", ["queue"], registry=self.registry
        )
        self.queue_age = Gauge(
            "conductor_work_queue_oldest_age_seconds",
            "Age of the oldest pending raw event / due job (0: none)",
            ["queue"],
            registry=self.registry,
        )

    def watch_queue(self, name: str, read: Callable[[], float], *, age: Callable[[], float]) -> None:
        """Report a queue's depth and the age of its oldest item at scrape time (NaN while the
        store cannot say: the rest of the scrape still answers)."""
        self.queue_depth.labels(queue=name).set_function(_or_nan(read))
        self.queue_age.labels(queue=name).set_function(_or_nan(age))


def _or_nan(read: Callable[[], float]) -> Callable[[], float]:
    def guarded() -> float:
        try:
            return read()
        except SQLAlchemyError:
            return math.nan

    return guarded
