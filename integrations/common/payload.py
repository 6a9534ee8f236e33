"""Small, strict-where-it-matters readers for untrusted JSON payloads.

Every reader takes the JSON path of the value it reads so that a `MalformedPayload` says exactly
where the payload went wrong (``alerts[3].labels: expected an object``). Readers are tolerant of
missing keys and of extra keys; they only complain when a value is present with a shape that
changes what the payload means.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

import orjson

from bot.errors import ConductorError, MalformedPayload

JsonObject = Mapping[str, Any]

# Go's zero time, which Alertmanager and Grafana send for "not set".
_ZERO_TIME_PREFIX = "0001-01-01"
_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_EPOCH = re.compile(r"\d{9,13}(\.\d+)?")
# "Sat, 05 Jun 2016 15:10:09 GMT" (the weekday is optional in RFC 2822)
_RFC_1123 = re.compile(r"(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}")


# Deeper than this is refused: no real payload comes close (Azure's common schema nests about
# eight levels), and readers that recurse (hashing, rendering label values) stay far from
# Python's recursion limit.
MAX_NESTING = 100


def load_json(body: bytes, *, what: str = "body") -> Any:
    """Decode a JSON body, or raise MalformedPayload naming the position of the error.

    orjson decodes (several times faster: this runs for every webhook before its 202); what it
    refuses goes to the standard library's decoder, which decides (it also reads the NaN,
    Infinity and integers beyond 64 bits that some senders emit) and words the error. Text that
    is not text (lone surrogates), numbers past Python's digit limit and nesting deeper than
    MAX_NESTING are refused too, so nothing downstream meets them."""
    if not body.strip():
        raise MalformedPayload(f"{what}: empty")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        value = _load_with_stdlib(body, what)
    if body.count(b"[") + body.count(b"{") > MAX_NESTING and _nesting_exceeds(value, MAX_NESTING):
        raise MalformedPayload(f"{what}: nested too deeply (more than {MAX_NESTING} levels)")
    return value


def _load_with_stdlib(body: bytes, what: str) -> Any:
    try:
        value = json.loads(body)
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"{what}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise MalformedPayload(
            f"{what}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise MalformedPayload(f"{what}: nested too deeply (more than {MAX_NESTING} levels)") from None
    except ValueError:  # int(): past sys.get_int_max_str_digits()
        raise MalformedPayload(f"{what}: a number has too many digits") from None
    try:  # orjson refuses lone surrogates; the standard library lets them through as str
        json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedPayload(f"{what}: a string holds a lone surrogate (not text)") from None
    except RecursionError:
        raise MalformedPayload(f"{what}: nested too deeply (more than {MAX_NESTING} levels)") from None
    return value


def _nesting_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def load_json_object(body: bytes, *, what: str = "body") -> JsonObject:
    return expect_object(load_json(body, what=what), what)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def malformed(path: str, message: str) -> MalformedPayload:
    """The error for a bad value at `path` (``path: message``), carrying the path itself."""
    return MalformedPayload(f"{path}: {message}", path=path)


def expect_object(value: Any, path: str) -> JsonObject:
    if not isinstance(value, dict):
        raise malformed(path, f"expected an object, got {_type_name(value)}")
    return value


def expect_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise malformed(path, f"expected an array, got {_type_name(value)}")
    return value


def join(path: str, key: str | int) -> str:
    """The path of `key` inside `path`: ``a.b``, ``a[3]``, ``a["key with spaces"]``.

    `integrations.common.lenient.split_path` reads these back, so a path always names exactly
    one place in the document."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _plain_key(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


@lru_cache(maxsize=4096)
def _plain_key(key: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) is not None


def get_object(obj: JsonObject, key: str, path: str) -> JsonObject:
    """The object at `key`; missing or null reads as an empty object."""
    value = obj.get(key)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return expect_object(value, join(path, key))  # raises, naming the path


def get_list(obj: JsonObject, key: str, path: str) -> list[Any]:
    """The array at `key`; missing or null reads as an empty array."""
    value = obj.get(key)
    if value is None:
        return []
    return expect_list(value, join(path, key))


def get_str(obj: JsonObject, key: str, path: str) -> str | None:
    """A string (numbers are accepted and rendered); missing or null reads as None."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _render_number(value)
    raise malformed(join(path, key), f"expected a string, got {_type_name(value)}")


def require_str(obj: JsonObject, key: str, path: str) -> str:
    value = get_str(obj, key, path)
    if value is None or not value.strip():
        raise malformed(join(path, key), "required")
    return value


def text(obj: JsonObject, key: str, path: str) -> str:
    """A string that is allowed to be missing (then "")."""
    return get_str(obj, key, path) or ""


def get_int_or_none(obj: JsonObject, key: str, path: str) -> int | None:
    """An integer (or an integral float or numeric string); missing, null or "" read as None."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise malformed(join(path, key), f"expected an integer, got {_type_name(value)}")


def _render_number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_float(value: Any) -> float | None:
    """Numbers and numeric strings ("0.835", "1,234.5", "$25.00") as floats; anything else None.

    Lenient on purpose: a metric value that cannot be read is absent, not a reason to refuse
    the whole alert.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            result = float(value)
        except OverflowError:  # an integer past the largest float
            return None
    elif isinstance(value, str):
        cleaned = value.strip().replace(",", "").lstrip("$€£").rstrip("%").strip()
        if not cleaned:
            return None
        try:
            result = float(cleaned)
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def str_map(value: Any, path: str, *, pairs: bool = False) -> dict[str, str]:
    """Labels and dimensions as dict[str, str].

    Accepts an object (values rendered as strings, nulls dropped) or, with ``pairs=True``, a list
    of ``{"name": ..., "value": ...}`` pairs (any capitalisation of the two keys), which is how
    CloudWatch SNS messages and Azure send dimensions.
    """
    if value is None:
        return {}
    if isinstance(value, dict):
        if all(type(item) is str for item in value.values()):
            return dict(value)  # the usual case (label sets): nothing to render or drop
        result: dict[str, str] = {}
        for key, item in value.items():
            if item is None:
                continue
            if isinstance(item, dict | list):
                result[str(key)] = json.dumps(item, sort_keys=True, separators=(",", ":"))
            else:
                result[str(key)] = get_str(value, key, path) or ""
        return result
    if isinstance(value, list) and pairs:
        found: dict[str, str] = {}
        for index, item in enumerate(value):
            entry_path = join(path, index)
            entry = expect_object(item, entry_path)
            keys = {str(k).lower(): k for k in entry}
            name_key = keys.get("name", keys.get("key"))
            if name_key is None or entry[name_key] is None:
                raise malformed(entry_path, "expected a name/value pair")
            name = get_str(entry, name_key, entry_path) or ""
            value_key = keys.get("value")
            found[name] = (get_str(entry, value_key, entry_path) or "") if value_key is not None else ""
        return found
    raise malformed(path, f"expected an object, got {_type_name(value)}")


def get_str_map(obj: JsonObject, key: str, path: str, *, pairs: bool = False) -> dict[str, str]:
    return str_map(obj.get(key), join(path, key), pairs=pairs)


class _NotATime(ConductorError):
    """Why a value is not a time (the caller adds the path)."""


def parse_time(value: Any, path: str) -> datetime | None:
    """ISO 8601 (any fraction length, `Z`, `+0000` or `+00:00`) or epoch seconds/milliseconds.

    Null, "" and Go's zero time ``0001-01-01T00:00:00Z`` read as None. A value that is present
    but not a time is malformed: times decide ordering and deduplication.
    """
    try:
        return _read_time(value)
    except _NotATime as exc:
        raise malformed(path, str(exc)) from None


def get_time(obj: JsonObject, key: str, path: str) -> datetime | None:
    try:
        return _read_time(obj.get(key))
    except _NotATime as exc:  # the path is only worked out when it is needed
        raise malformed(join(path, key), str(exc)) from None


def _read_time(value: Any) -> datetime | None:
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, bool):
        raise _NotATime("expected a time, got a boolean")
    if isinstance(value, int | float):
        try:
            seconds = value / 1000 if value > 100_000_000_000 else value
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            shown = str(value)
            raise _NotATime(f"time out of range: {shown[:24]}{'...' if len(shown) > 24 else ''}") from None
    if not isinstance(value, str):
        raise _NotATime(f"expected a time, got {_type_name(value)}")
    raw = value.strip()
    if raw.startswith(_ZERO_TIME_PREFIX):
        return None
    if _EPOCH.fullmatch(raw):
        return _read_time(float(raw))
    try:  # the usual forms (RFC 3339 with Z or an offset, up to 9 fraction digits) read as they are
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        parsed = _lenient_iso(raw, value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:59 is past the year 9999 in UTC
        raise _NotATime(f"time out of range: {value!r}") from None


def _lenient_iso(raw: str, value: str) -> datetime:
    """ISO 8601 spelled in ways `datetime.fromisoformat` refuses (lower-case z, long fractions),
    or the RFC 1123 date of HTTP headers and AWS Health events (``Sat, 05 Jun 2016 15:10:09 GMT``)."""
    candidate = raw.replace("z", "Z")
    candidate = candidate[:-1] + "+00:00" if candidate.endswith("Z") else candidate
    candidate = _FRACTION.sub(r"\1", candidate, count=1)
    candidate = _COMPACT_OFFSET.sub(r"\1:\2", candidate)
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    if _RFC_1123.match(raw):
        try:
            return parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            pass
    raise _NotATime(f"not an ISO 8601 time: {value!r}")


def iso(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def stable_hash(*parts: Any) -> str:
    """A short, stable hex digest of JSON-serialisable parts (order matters, dict order does not)."""
    encoded = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()[:32]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (works for plain dicts as well as Starlette headers)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def non_empty(values: Iterable[str | None]) -> list[str]:
    """The given links/strings without blanks and duplicates, order kept."""
    seen: list[str] = []
    for value in values:
        if value and value.strip() and value not in seen:
            seen.append(value)
    return seen
