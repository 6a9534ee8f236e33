"""The parsers and screens of `integrations`, bound to this configuration's parse options."""

from __future__ import annotations

from collections.abc import Callable

from bot.config.root import Settings
from integrations.base import Envelope, ParsedDelivery, ParseOptions
from integrations.registry import get_parser, get_screen

ParseFn = Callable[[str, bytes, dict[str, str]], ParsedDelivery]
ScreenFn = Callable[[str, bytes, dict[str, str]], Envelope]


def parse_options(settings: Settings) -> ParseOptions:
    ingest = settings.ingest
    return ParseOptions(
        insufficient_data_status=ingest.cloudwatch.insufficient_data_status,
        insufficient_data_severity=ingest.cloudwatch.insufficient_data_severity,
        grafana_no_data_status=ingest.grafana.no_data_status,
        grafana_no_data_severity=ingest.grafana.no_data_severity,
        ec2_alert_states=tuple(ingest.eventbridge.ec2_alert_states),
        ec2_expected_instances=tuple(ingest.eventbridge.ec2_expected_instances),
    )


def make_parse(settings: Settings) -> ParseFn:
    options = parse_options(settings)

    def parse(source: str, body: bytes, headers: dict[str, str]) -> ParsedDelivery:
        return get_parser(source)(body, headers=headers, options=options)

    return parse


def make_screen(settings: Settings) -> ScreenFn:
    options = parse_options(settings)

    def screen(source: str, body: bytes, headers: dict[str, str]) -> Envelope:
        return get_screen(source)(body, headers=headers, options=options)

    return screen
