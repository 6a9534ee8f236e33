"""A screen (what the webhook route runs) accepts exactly what its parser accepts, refuses with the
same reason, and yields the parser's kind, alert count and idempotency key."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.errors import MalformedPayload
from integrations.base import Envelope, ParseOptions, envelope_of
from integrations.registry import SCREENS, get_parser, get_screen
from tests.integrations.parsers.payloads import PAYLOADS, raw

FIXTURE_PREFIXES = {"alertmanager": "alertmanager__", "grafana": "grafana_unified_alerting__"}

# Values an alert element's fields may carry in the wild or by mistake.
FIELD_VALUES: dict[str, list[Any]] = {
    "status": ["firing", "resolved", "FIRING", " Resolved ", "pending", "", None, 1, ["firing"]],
    "labels": [{"alertname": "X", "severity": "critical"}, {"n": 1, "b": True, "x": None}, {}, None, [], "x"],
    "annotations": [{"summary": "s"}, {"value": 0.5, "o": {"a": 1}}, None, [], 3],
    "generatorURL": ["http://prom/graph?g0.expr=up+%3D%3D+0", "", None, 7, {"u": 1}],
    "fingerprint": ["abc123", "", None, 12345, {"f": 1}],
    "startsAt": [
        "2026-11-23T10:00:00Z",
        "2026-11-23T10:00:00.123456789Z",
        "2026-11-23T10:00:00+0100",
        "2026-11-23t10:00:00z",
        "0001-01-01T00:00:00Z",
        "1700000000",
        1700000000123,
        "",
        None,
        "yesterday",
        True,
        {"t": 1},
    ],
    "endsAt": ["2026-11-23T11:00:00Z", "0001-01-01T00:00:00Z", None, "soon", 1.5e9, False],
}


def fixtures(source: str) -> list[str]:
    return sorted(p.name for p in PAYLOADS.glob(f"{FIXTURE_PREFIXES[source]}*.json"))


def outcome(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except MalformedPayload as exc:
        return ("refused", exc.reason)


def compare(source: str, body: bytes) -> tuple[Any, Any]:
    options = ParseOptions()
    screened = outcome(lambda: get_screen(source)(body, headers={}, options=options))
    parsed = outcome(lambda: envelope_of(get_parser(source)(body, headers={}, options=options)))
    return screened, parsed


def mutations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for field, values in FIELD_VALUES.items():
        for value in values:
            changed = copy.deepcopy(document)
            for element in changed.get("alerts") or []:
                if value is None:
                    element.pop(field, None)
                else:
                    element[field] = value
            yield f"{field}={value!r}", changed
    for key, value in (("alerts", None), ("alerts", {}), ("alerts", [1]), ("version", "5"), ("groupKey", 3)):
        changed = copy.deepcopy(document)
        changed[key] = value
        yield f"{key}={value!r}", changed


@pytest.mark.parametrize("source", sorted(SCREENS))
def test_screens_have_fixtures(source: str) -> None:
    assert fixtures(source), f"no fixtures for {source}"


@pytest.mark.parametrize("source", sorted(SCREENS))
def test_screen_agrees_with_parser_on_every_fixture_and_mutation(source: str) -> None:
    checked = refused = 0
    for name in fixtures(source):
        document = json.loads(raw(name))
        for label, changed in [("as is", document), *mutations(document)]:
            screened, parsed = compare(source, json.dumps(changed).encode())
            assert screened == parsed, f"{name} ({label})"
            checked += 1
            refused += isinstance(parsed, tuple)
    assert refused > 10 and checked - refused > 10  # both sides of the contract were exercised


@pytest.mark.parametrize("source", sorted(SCREENS))
@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"\xff\xfe", b'{"alerts": "x"}', b'{"version": 3}'])
def test_screen_agrees_on_unreadable_bodies(source: str, body: bytes) -> None:
    screened, parsed = compare(source, body)
    assert isinstance(parsed, tuple)
    assert screened == parsed


def test_sources_without_a_screen_are_screened_by_parsing() -> None:
    body = raw("generic__batch_mixed.json")
    envelope = get_screen("generic")(body, headers={}, options=ParseOptions())
    parsed = get_parser("generic")(body, headers={}, options=ParseOptions())
    assert isinstance(envelope, Envelope)
    assert envelope == envelope_of(parsed)
    assert envelope.alert_count == len(parsed.alerts) > 1


def test_ha_replicas_screen_to_the_same_key() -> None:
    a = get_screen("alertmanager")(
        raw("alertmanager__mixed_group_k8s_replica_a.json"), headers={}, options=ParseOptions()
    )
    b = get_screen("alertmanager")(
        raw("alertmanager__mixed_group_k8s_replica_b.json"), headers={}, options=ParseOptions()
    )
    assert a.idempotency_key == b.idempotency_key
    assert a.alert_count == b.alert_count > 1
