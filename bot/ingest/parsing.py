"""The parsers and screens of `integrations`, bound to this configuration's parse options.

Stage: normalize.
Takes: a stored webhook body (source, bytes, headers).
Gives: `ParsedDelivery` — the normalized alerts (or a subscription confirmation, or an event type
  no parser handles); a body that cannot be normalized raises `MalformedPayload` and is
  dead-lettered with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.config.root import Settings
from bot.errors import MalformedPayload
from bot.logs import get_logger
from integrations.base import Envelope, ParsedDelivery, ParseOptions
from integrations.registry import get_parser, get_screen

ParseFn = Callable[[str, bytes, dict[str, str]], ParsedDelivery]
ScreenFn = Callable[[str, bytes, dict[str, str]], Envelope]

log = get_logger(__name__)


class NotNormalizable(MalformedPayload):
    """A stored body whose parser failed with an unexpected error (a bug or an input it did not
    foresee); dead-lettered like a malformed body, with the error as its reason."""


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


def normalize(parse: ParseFn, source: str, body: bytes, headers: dict[str, str]) -> ParsedDelivery:
    """The event's alerts. Any failure to normalize is the event's own (a body no parser
    change will make readable until it is fixed): MalformedPayload, so it is dead-lettered
    alone, with the reason, and never holds up the events claimed with it."""
    try:
        return parse(source, body, headers)
    except MalformedPayload:
        raise
    except Exception as exc:  # see the docstring; logged with its traceback
        log.error("raw event could not be normalized", source=source, exc_info=True)
        raise NotNormalizable(f"could not be normalized: {type(exc).__name__}: {exc}") from exc


def make_screen(settings: Settings) -> ScreenFn:
    options = parse_options(settings)

    def screen(source: str, body: bytes, headers: dict[str, str]) -> Envelope:
        return get_screen(source)(body, headers=headers, options=options)

    return screen
