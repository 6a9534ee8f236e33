"""Webhook source name → parser and screen. The names are the public ``/webhooks/{source}`` paths."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.errors import UnknownSource
from integrations.aws import cloudwatch, eventbridge
from integrations.azure import azure
from integrations.base import Envelope, ParseOptions, Parser, Screen, envelope_of
from integrations.common.lenient import EssentialFields
from integrations.datadog import datadog
from integrations.gcp import gcp
from integrations.generic import generic
from integrations.generic.internal import SWEEP, parse_sweep
from integrations.grafana import grafana, legacy
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


# The fields whose bad value refuses a source's payload (a bad value anywhere else is emptied
# with a warning). docs/sources.md lists the same fields; a test holds the two together.
ESSENTIAL_FIELDS: Mapping[str, tuple[EssentialFields, ...]] = MappingProxyType(
    {
        "alertmanager": (alertmanager.ESSENTIAL,),
        "cloudwatch": (cloudwatch.ESSENTIAL,),
        "eventbridge": (eventbridge.ESSENTIAL,),
        "azure": (azure.ESSENTIAL,),
        "gcp": (gcp.ESSENTIAL,),
        "pagerduty": (pagerduty.ESSENTIAL,),
        "grafana": (alertmanager.ALERT_ESSENTIAL, legacy.ESSENTIAL),  # unified alerting, legacy alerting
        "datadog": (datadog.ESSENTIAL,),
        "generic": (generic.ESSENTIAL,),
    }
)


# Sources whose deliveries carry groups of alerts have a screen of their own, so the webhook route
# checks them without normalizing every alert; the others' bodies hold one alert and are
# screened by parsing them.
SCREENS: Mapping[str, Screen] = MappingProxyType(
    {"alertmanager": alertmanager.screen, "grafana": grafana.screen}
)


# Sources the bot itself produces; they have no webhook route.
INTERNAL_PARSERS: Mapping[str, Parser] = MappingProxyType({SWEEP: parse_sweep})


def get_parser(name: str) -> Parser:
    """The parser for a webhook (or internal) source; UnknownSource names the known ones."""
    try:
        return PARSERS[name] if name in PARSERS else INTERNAL_PARSERS[name]
    except KeyError:
        raise UnknownSource(f"unknown source {name!r} (known: {', '.join(sorted(PARSERS))})") from None


def get_screen(name: str) -> Screen:
    """The webhook route's check for a source (its parser where it has no screen of its own)."""
    if name in SCREENS:
        return SCREENS[name]
    parser = get_parser(name)

    def by_parsing(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> Envelope:
        return envelope_of(parser(body, headers=headers, options=options))

    return by_parsing
