"""Webhook source name → parser. The names are the public ``/webhooks/{source}`` paths."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.errors import UnknownSource
from integrations.aws import cloudwatch, eventbridge
from integrations.azure import azure
from integrations.base import Parser
from integrations.datadog import datadog
from integrations.gcp import gcp
from integrations.generic import generic
from integrations.generic.internal import SWEEP, parse_sweep
from integrations.grafana import grafana
from integrations.pagerduty import pagerduty
from integrations.prometheus import alertmanager

PARSERS: Mapping[str, Parser] = MappingProxyType(
    {
        "alertmanager": alertmanager.parse,
        "cloudwatch": cloudwatch.parse,
        "eventbridge": eventbridge.parse,
        "azure": azure.parse,
        "gcp": gcp.parse,
        "pagerduty": pagerduty.parse,
        "grafana": grafana.parse,
        "datadog": datadog.parse,
        "generic": generic.parse,
    }
)


# Sources the bot itself produces; they have no webhook route.
INTERNAL_PARSERS: Mapping[str, Parser] = MappingProxyType({SWEEP: parse_sweep})


def get_parser(name: str) -> Parser:
    """The parser for a webhook (or internal) source; UnknownSource names the known ones."""
    try:
        return PARSERS[name] if name in PARSERS else INTERNAL_PARSERS[name]
    except KeyError:
        raise UnknownSource(f"unknown source {name!r} (known: {', '.join(sorted(PARSERS))})") from None
