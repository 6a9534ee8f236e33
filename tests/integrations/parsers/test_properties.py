"""Property tests (hypothesis) for every webhook parser and screen, and the other readers of
untrusted text (matchers, durations, Slack commands).

For any input a parser and its screen either accept it or refuse it with MalformedPayload (never
another exception: that would be a 503 on the webhook route or a stuck raw event), they agree
with each other, and what a parser accepts can be stored (its normalized alerts serialize to
UTF-8 JSON with times inside the calendar). Inputs: arbitrary bytes, arbitrary JSON (huge
integers, NaN, lone surrogates, deep nesting, odd times), and the fixtures with one value
anywhere replaced by arbitrary JSON.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import ConductorError, MalformedPayload
from integrations.base import ParseOptions, envelope_of
from integrations.registry import PARSERS, get_parser, get_screen

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"
PREFIXES = {
    "alertmanager": ("alertmanager__",),
    "cloudwatch": ("aws_sns_https__", "cloudwatch_sns__", "cloudwatch_raw__"),
    "eventbridge": ("aws_eventbridge__", "eventbridge__"),
    "azure": ("azure_",),
    "gcp": ("gcp_monitoring__",),
    "pagerduty": ("pagerduty_webhook_v3__",),
    "grafana": ("grafana_unified_alerting__",),
    "datadog": ("datadog_webhook__",),
    "generic": ("generic__",),
}
HEADERS = {"content-type": "application/json", "x-amz-sns-message-type": "Notification"}
OPTIONS = ParseOptions()
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SOURCES = sorted(PARSERS)


def fixtures_of(source: str) -> list[Any]:
    names = sorted(p.name for p in FIXTURES.iterdir() if p.name.startswith(PREFIXES[source]))
    assert names, source
    return [json.loads((FIXTURES / name).read_bytes()) for name in names]


# Text including lone surrogates (json.dumps writes them as \ud800 escapes).
odd_text = st.text(st.characters(codec=None), max_size=20) | st.sampled_from(
    ["firing", "resolved", "ALARM", "OK", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "1e400"]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | odd_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=20,
)


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


def replace_somewhere(document: Any, value: Any, choice: int) -> Any:
    """A copy of `document` with the `choice`-th node (pre-order, mod the node count) replaced."""
    nodes: list[tuple[Any, Any]] = []

    def walk(node: Any, parent: Any, key: Any) -> None:
        nodes.append((parent, key))
        children = (
            node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        )
        for k, child in children:
            walk(child, node, k)

    copied = json.loads(json.dumps(document))
    walk(copied, None, None)
    parent, key = nodes[choice % len(nodes)]
    if parent is None:
        return value
    parent[key] = value
    return copied


def check(source: str, body: bytes) -> None:
    """The properties: only MalformedPayload, screen == parser, accepted output storable."""
    try:
        parsed = get_parser(source)(body, headers=HEADERS, options=OPTIONS)
    except MalformedPayload as exc:
        parse_error: str | None = exc.reason
    else:
        parse_error = None
    try:
        envelope = get_screen(source)(body, headers=HEADERS, options=OPTIONS)
    except MalformedPayload as exc:
        screen_error: str | None = exc.reason
    else:
        screen_error = None
    if screen_error is not None:
        assert parse_error is not None, f"screen refused what the parser accepts: {screen_error}"
        return
    assert parse_error is None, f"screen accepted what the parser refuses: {parse_error}"
    assert envelope == envelope_of(parsed)
    for alert in parsed.alerts:
        json.dumps(alert.to_json_dict(), allow_nan=False).encode("utf-8")  # storable as it is


@pytest.mark.parametrize("source", SOURCES)
@EXAMPLES
@given(body=st.binary(max_size=300))
def test_any_bytes(source: str, body: bytes) -> None:
    check(source, body)


@pytest.mark.parametrize("source", SOURCES)
@EXAMPLES
@given(value=json_values)
def test_any_json(source: str, value: Any) -> None:
    check(source, encode(value))


@pytest.mark.parametrize("source", SOURCES)
@EXAMPLES
@given(data=st.data(), value=json_values, choice=st.integers(min_value=0))
def test_fixtures_with_any_value_replaced(source: str, data: st.DataObject, value: Any, choice: int) -> None:
    document = data.draw(st.sampled_from(fixtures_of(source)))
    check(source, encode(replace_somewhere(document, value, choice)))


@pytest.mark.parametrize("source", SOURCES)
@settings(max_examples=20, deadline=None)
@given(depth=st.integers(min_value=50, max_value=3000), opener=st.sampled_from(["[", '{"a":']))
def test_deep_nesting(source: str, depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    check(source, (opener * depth + "1" + closer * depth).encode())


@EXAMPLES
@given(text=st.text(st.characters(codec=None), max_size=60))
def test_matchers_refuse_only_with_invalid_matcher(text: str) -> None:
    from bot.matching import InvalidMatcher, parse_matcher

    try:
        matcher = parse_matcher(text)
    except InvalidMatcher:
        return
    matcher.matches({"name": text, matcher.name: text})


@EXAMPLES
@given(text=st.text(max_size=30) | st.from_regex(r"\A[0-9]{1,400}(\.[0-9]{1,5})?[smhdw]\Z"))
def test_durations_refuse_only_with_invalid_duration(text: str) -> None:
    from bot.timeparse import InvalidDuration, parse_duration

    with contextlib.suppress(InvalidDuration):
        assert parse_duration(text).total_seconds() > 0


@EXAMPLES
@given(text=st.text(st.characters(codec=None), max_size=80) | st.sampled_from(["silence a=~(b+)+$ 1e400w"]))
def test_slack_commands_refuse_only_with_a_usage_error(text: str) -> None:
    from bot.slack.commands import CommandUsageError, parse_command

    try:
        parse_command(text)
    except CommandUsageError:
        pass
    except ConductorError as exc:  # pragma: no cover - a named error the Slack handler would not expect
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc


# Raw JSON tokens that once made a reader raise something other than MalformedPayload.
NASTY_TOKENS = (
    '"\\ud800"',  # a lone surrogate
    "9" * 4301,  # past Python's int digit limit
    '"9999-12-31T23:59:59-23:59"',  # past the calendar in UTC
    "1e400",  # infinite once read
    "1" + "0" * 400,  # past the largest float
)
PLACEHOLDER = "\u2603placeholder\u2603"


@pytest.mark.parametrize("source", SOURCES)
def test_every_value_of_every_fixture_replaced_by_each_nasty_token(source: str) -> None:
    """Exhaustive where hypothesis samples: each node of each fixture, each token."""
    for document in fixtures_of(source):
        count = sum(1 for _ in _nodes(document))
        for choice in range(count):
            marked = json.dumps(replace_somewhere(document, PLACEHOLDER, choice), ensure_ascii=True)
            for token in NASTY_TOKENS:
                check(source, marked.replace(json.dumps(PLACEHOLDER), token).encode())


def _nodes(node: Any) -> Any:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _nodes(child)
