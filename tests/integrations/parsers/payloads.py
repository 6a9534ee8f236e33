"""Fixture payloads (tests/fixtures/payloads) and a one-call parse helper for the parser tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from integrations.base import ParsedDelivery, ParseOptions
from integrations.registry import get_parser

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"


def raw(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def doc(name: str) -> Any:
    return json.loads(raw(name))


def parse(
    source: str,
    body: bytes | str | Mapping[str, Any] | list[Any],
    *,
    headers: Mapping[str, str] | None = None,
    options: ParseOptions | None = None,
) -> ParsedDelivery:
    """Parse a fixture name (str ending in .json), raw bytes, or a JSON document."""
    if isinstance(body, str) and body.endswith(".json"):
        data = raw(body)
    elif isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = json.dumps(body).encode()
    return get_parser(source)(data, headers=headers or {}, options=options or ParseOptions())
