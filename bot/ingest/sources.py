"""The webhook sources Conductor accepts (the `{source}` of `POST /webhooks/{source}`)."""

from __future__ import annotations

SOURCES = (
    "alertmanager",
    "cloudwatch",
    "eventbridge",
    "azure",
    "gcp",
    "pagerduty",
    "grafana",
    "datadog",
    "generic",
)
