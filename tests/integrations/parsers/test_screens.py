"""A screen (what the webhook route runs) accepts exactly what its parser accepts, refuses with the
same reason, empties the same malformed optional fields, and yields the parser's kind, alert count
and idempotency key."""

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

FIXTURE_PREFIXES = {
    "alertmanager": ("alertmanager__",),
    "grafana": ("grafana_unified_alerting__", "grafana_legacy__"),
}

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
    # Grafana's own fields of an alert
    "values": [{"A": 1.5}, {"A": "x", "B": 2}, None, [1], "v"],
    "valueString": ["[ var='A' labels={instance=h} value=3 ]", "", None, 3, {"v": 1}],
    "dashboardURL": ["https://grafana/d/x", "", None, ["u"]],
}
# Values the fields of a legacy (pre-8) Grafana notification may carry.
LEGACY_FIELD_VALUES: dict[str, list[Any]] = {
    "state": ["alerting", "ok", "no_data", "pending", "paused", "OK", "exploded", "", None, 1, {"s": 1}],
    "ruleName": ["Web CPU busy", "Test notification", "", None, 7, ["r"]],
    "ruleId": [42, "42", 3.2760766009712717e18, None, {"id": 1}, [1]],
    "evalMatches": [[], [{"metric": "m", "value": "x", "tags": None}], [{"tags": "x"}], [1], "x", None],
    "tags": [{"severity": "warning"}, {"n": 1}, {}, None, ["severity"], "x"],
    "message": ["Someone is testing the alert notification within Grafana.", "", None, 3, {"m": 1}],
    "orgId": [1, "1", None, {"o": 1}],
    "ruleUrl": ["https://grafana/d/x", "", None, 5, ["u"]],
    "imageUrl": ["https://grafana/i.png", None, {"i": 1}],
}


def fixtures(source: str) -> list[str]:
    return sorted(p.name for prefix in FIXTURE_PREFIXES[source] for p in PAYLOADS.glob(f"{prefix}*.json"))


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
    if "alerts" not in document:
        yield from legacy_mutations(document)
        return
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


def legacy_mutations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for field, values in LEGACY_FIELD_VALUES.items():
        for value in values:
            changed = copy.deepcopy(document)
            if value is None:
                changed.pop(field, None)
            else:
                changed[field] = value
            yield f"{field}={value!r}", changed
    for removed in (("ruleName", "ruleId", "evalMatches"), ("state",)):
        changed = {key: value for key, value in document.items() if key not in removed}
        yield f"without {removed}", changed


@pytest.mark.parametrize("source", sorted(SCREENS))
def test_screens_have_fixtures(source: str) -> None:
    assert fixtures(source), f"no fixtures for {source}"


@pytest.mark.parametrize("source", sorted(SCREENS))
def test_screen_agrees_with_parser_on_every_fixture_and_mutation(source: str) -> None:
    checked = refused = emptied = 0
    for name in fixtures(source):
        document = json.loads(raw(name))
        for label, changed in [("as is", document), *mutations(document)]:
            screened, parsed = compare(source, json.dumps(changed).encode())
            assert screened == parsed, f"{name} ({label})"
            checked += 1
            refused += isinstance(parsed, tuple)
            emptied += isinstance(parsed, Envelope) and bool(parsed.warnings)
    # every side of the contract was exercised: refused, accepted as is, accepted with fields emptied
    assert refused > 10 and emptied > 10 and checked - refused - emptied > 10


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
