"""Lenient on optional fields, strict on essential ones: the mechanism, then every source.

The sweep at the end breaks every field of every fixture in turn (gives it a value of the wrong
shape) and holds each parser to the rule: the payload is refused only for a field its source
declares essential, and an emptied field never is one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.errors import MalformedPayload
from integrations.base import ParsedDelivery
from integrations.common.lenient import (
    MAX_EMPTIED_FIELDS,
    EssentialFields,
    FieldWarning,
    read_leniently,
    split_path,
)
from integrations.common.payload import JsonObject, get_str, get_time, join, require_str
from integrations.registry import ESSENTIAL_FIELDS, PARSERS
from tests.integrations.parsers.payloads import PAYLOADS, parse

DOCS = Path(__file__).resolve().parents[3] / "docs" / "sources.md"
SOURCE_OF_PREFIX = {
    "alertmanager": "alertmanager",
    "aws_eventbridge": "eventbridge",
    "eventbridge": "eventbridge",
    "aws_sns_https": "cloudwatch",
    "cloudwatch_sns": "cloudwatch",
    "cloudwatch_raw": "cloudwatch",
    "azure_monitor": "azure",
    "azure_appinsights": "azure",
    "gcp_monitoring": "gcp",
    "pagerduty_webhook_v3": "pagerduty",
    "grafana_unified_alerting": "grafana",
    "grafana_legacy": "grafana",
    "datadog_webhook": "datadog",
    "generic": "generic",
}


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        pytest.param("incident.ended_at", ("incident", "ended_at"), id="keys"),
        pytest.param("alerts[3].labels", ("alerts", 3, "labels"), id="index"),
        pytest.param('data["Activity Log"].x', ("data", "Activity Log", "x"), id="quoted"),
        pytest.param('["top key"][0]', ("top key", 0), id="quoted-top"),
        pytest.param("detail.instance-id", ("detail", "instance-id"), id="dash"),
        pytest.param("", (), id="root"),
        pytest.param("a..b", None, id="double-dot"),
        pytest.param("a[x]", None, id="bad-index"),
    ],
)
def test_split_path_reads_what_join_writes(path: str, segments: tuple[Any, ...] | None) -> None:
    assert split_path(path) == segments


@pytest.mark.parametrize("key", ["plain", "with space", "dash-ed", "ünïcode", 'quote"d', 7])
def test_join_and_split_round_trip(key: str | int) -> None:
    path = join(join("", "root"), key)
    assert split_path(path) == ("root", key)


def test_essential_fields_cover_their_containers_not_their_siblings() -> None:
    essential = EssentialFields("alerts[*].status", "incident.incident_id")
    covered = ["", "alerts", "alerts[4]", "alerts[4].status", "incident", "incident.incident_id"]
    not_covered = ["alerts[4].startsAt", "incident.ended_at", "other", "alerts[4].status.deeper"]
    assert all(essential.covers(split_path(p) or ()) for p in covered)
    assert not any(essential.covers(split_path(p) or ()) for p in not_covered)
    assert EssentialFields("detail.state").under("Message").patterns == ("Message.detail.state", "Message")


def test_field_names_for_metrics_have_no_indices() -> None:
    assert FieldWarning("alerts[12].annotations", "x").field == "alerts[*].annotations"
    assert FieldWarning('data["a b"][3]', "x").field == 'data["a b"][*]'


def _reader(document: JsonObject) -> tuple[str, Any, Any]:
    return require_str(document, "id", ""), get_time(document, "at", ""), get_str(document, "note", "")


def test_read_leniently_empties_optional_fields_and_refuses_essential_ones() -> None:
    essential = EssentialFields("id")
    value, warnings = read_leniently(_reader, {"id": "1", "at": "noon", "note": {"n": 1}}, essential)
    assert value == ("1", None, None)
    assert [w.path for w in warnings] == ["at", "note"]
    with pytest.raises(MalformedPayload, match=r"^id: expected a string"):
        read_leniently(_reader, {"id": ["1"], "at": "noon"}, essential)


def test_an_error_without_a_path_is_always_refused() -> None:
    def read(document: JsonObject) -> None:
        raise MalformedPayload("status: expected firing or resolved")

    with pytest.raises(MalformedPayload, match="status"):
        read_leniently(read, {"status": "x"}, EssentialFields())


def test_a_field_that_is_still_wrong_once_emptied_is_refused_as_first_reported() -> None:
    def read(document: JsonObject) -> str:
        return require_str(document, "name", "")  # not declared essential, but required

    with pytest.raises(MalformedPayload, match=r"^name: expected a string, got an object$"):
        read_leniently(read, {"name": {"n": 1}}, EssentialFields())


def test_a_path_that_is_not_in_the_document_is_refused() -> None:
    def read(document: JsonObject) -> str:
        return require_str({"made": "up"}, "missing", "synthetic")

    with pytest.raises(MalformedPayload, match=r"synthetic\.missing: required"):
        read_leniently(read, {"a": 1}, EssentialFields())


def test_a_payload_with_too_many_bad_fields_is_refused() -> None:
    document = {f"f{i}": {"bad": i} for i in range(MAX_EMPTIED_FIELDS + 1)}

    def read(document: JsonObject) -> list[str | None]:
        return [get_str(document, key, "") for key in sorted(document)]

    with pytest.raises(MalformedPayload):
        read_leniently(read, document, EssentialFields())
    fewer = dict(list(document.items())[:MAX_EMPTIED_FIELDS])
    assert len(read_leniently(read, fewer, EssentialFields())[1]) == MAX_EMPTIED_FIELDS


def test_fields_inside_a_json_string_are_emptied_there() -> None:
    """SNS carries the alarm as JSON inside the ``Message`` string."""

    def read(document: JsonObject) -> Any:
        inner = json.loads(require_str(document, "Message", ""))
        return get_time(inner, "StateChangeTime", "Message")

    envelope = {"Message": json.dumps({"StateChangeTime": "later", "AlarmName": "a"})}
    value, warnings = read_leniently(read, envelope, EssentialFields("Message.AlarmName"))
    assert value is None and [w.path for w in warnings] == ["Message.StateChangeTime"]


def test_every_source_declares_its_essential_fields() -> None:
    assert sorted(ESSENTIAL_FIELDS) == sorted(PARSERS)


def test_docs_list_every_essential_field_of_every_source() -> None:
    text = DOCS.read_text()
    sections = dict(re.findall(r"^## `([a-z]+)`\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S))
    assert sorted(sections) == sorted(PARSERS)
    for source, declared in ESSENTIAL_FIELDS.items():
        for fields in declared:
            for pattern in fields.patterns:
                assert f"`{pattern}`" in sections[source], f"docs/sources.md, {source}: {pattern}"


def _fixtures() -> Iterator[tuple[str, str]]:
    for path in sorted(PAYLOADS.glob("*.json")):
        prefix = path.name.split("__", 1)[0]
        yield SOURCE_OF_PREFIX[prefix], path.name


def _paths(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            child = join(path, key)
            yield child
            yield from _paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):  # the first items stand for the rest
            child = join(path, index)
            yield child
            yield from _paths(item, child)


def _broken(document: Any, path: str) -> Iterator[Any]:
    """`document` with the value at `path` replaced by ones of the wrong shape: a string for a
    container; an object, and a word that is no number, time or known state, for a scalar."""
    segments = split_path(path)
    assert segments
    parent = document
    for segment in segments[:-1]:
        parent = parent[segment]
    old = parent[segments[-1]]
    for wrong in (
        ["not an object"] if isinstance(old, dict | list) else [{"not": ["a", "value"]}, "gibberish"]
    ):
        copy = json.loads(json.dumps(document))
        target = copy
        for segment in segments[:-1]:
            target = target[segment]
        target[segments[-1]] = wrong
        yield copy


def _outcome(source: str, document: Any) -> tuple[ParsedDelivery | None, MalformedPayload | None]:
    try:
        return parse(source, document), None
    except MalformedPayload as exc:
        return None, exc


def test_every_fixture_maps_to_a_source() -> None:
    assert all(source in PARSERS for source, _ in _fixtures())


@pytest.mark.parametrize("source", sorted(PARSERS))
def test_breaking_any_field_refuses_only_for_an_essential_one(source: str) -> None:
    essential = ESSENTIAL_FIELDS[source]
    refused = emptied = 0
    for fixture_source, name in _fixtures():
        if fixture_source != source:
            continue
        document = json.loads((PAYLOADS / name).read_bytes())
        for path in _paths(document):
            for broken in _broken(document, path):
                delivery, refusal = _outcome(source, broken)
                if refusal is not None:
                    refused += 1
                    if refusal.path is not None:
                        segments = split_path(refusal.path)
                        assert segments is not None, f"{name}, {path}: unreadable error path {refusal.path!r}"
                        assert any(e.covers(segments) for e in essential), f"{name}, {path}: {refusal.reason}"
                    continue
                assert delivery is not None
                for warning in delivery.warnings:
                    emptied += 1
                    segments = split_path(warning.path)
                    assert segments is not None and not any(e.covers(segments) for e in essential), warning
    assert refused > 0 and emptied > 0
