"""Bad input gets a 4xx with a reason, never a 5xx (a 503 makes a sender retry forever), and
changes nothing but the dead letter kept for an authenticated body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.http.app import create_app
from bot.runtime import Runtime
from bot.store.models import DeadLetter, RawEvent, Silence
from tests.http.conftest import make_runtime, metric_value

JSON = {"content-type": "application/json"}
TOKEN = "api-token-for-bad-input"


@pytest.fixture(params=["process", "inline"])
def runtime(
    request: pytest.FixtureRequest, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    monkeypatch.setenv("CONDUCTOR_API_TOKEN", TOKEN)  # the `default` token, read when the runtime is built
    rt = make_runtime(data_dir, ingest={"intake": request.param})
    yield rt
    rt.store.dispose()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), headers={"authorization": f"Bearer {TOKEN}"}) as test_client:
        yield test_client


def count(runtime: Runtime, model: type) -> int:
    with runtime.store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def alertmanager(starts_at: str = "2024-05-01T10:00:00Z", labels: object = None) -> dict[str, object]:
    return {
        "version": "4",
        "groupKey": "{}:{}",
        "alerts": [
            {
                "status": "firing",
                "labels": labels or {"alertname": "X"},
                "startsAt": starts_at,
                "fingerprint": "f",
            }
        ],
    }


NESTED = b'{"name": "x", "status": "firing", "labels": ' + b"[" * 1100 + b"]" * 1100 + b"}"
HUGE_INT = b'{"name": "x", "status": "firing", "metric": {"value": ' + b"9" * 4301 + b"}}"
SURROGATE = b'{"name": "x\\ud800", "status": "firing"}'


@pytest.mark.parametrize(
    ("source", "body", "reason"),
    [
        pytest.param("generic", NESTED, "nested too deeply", id="nesting-1100"),
        pytest.param(
            "alertmanager",
            json.dumps(alertmanager(labels={"a": "[" * 1})).replace('"[', "[" * 1100 + '"').encode(),
            "",
            id="nesting-inside-a-group",
        ),
        pytest.param("generic", HUGE_INT, "too many digits", id="integer-4301-digits"),
        pytest.param("generic", SURROGATE, "surrogate", id="lone-surrogate"),
        pytest.param(
            "alertmanager",
            SURROGATE.replace(b'"name"', b'"version": "4", "alerts": [], "x"'),
            "surrogate",
            id="lone-surrogate-am",
        ),
    ],
)
def test_malformed_webhook_bodies_get_400_with_a_reason(
    client: TestClient, runtime: Runtime, source: str, body: bytes, reason: str
) -> None:
    response = client.post(f"/webhooks/{source}", content=body, headers=JSON)
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert count(runtime, RawEvent) == 0
    assert count(runtime, DeadLetter) == 1  # authenticated (the source is open here): kept for replay


@pytest.mark.parametrize(
    ("source", "body", "field"),
    [
        pytest.param(
            "alertmanager",
            json.dumps(alertmanager("9999-12-31T23:59:59-23:59")).encode(),
            "alerts[*].startsAt",
            id="date-past-9999-in-utc",
        ),
        pytest.param(
            "generic",
            b'{"name": "x", "status": "firing", "starts_at": "9999-12-31T22:00:00-05:00"}',
            "starts_at",
            id="generic-date-past-9999-in-utc",
        ),
        pytest.param(
            "generic",
            b'{"name": "x", "status": "firing", "starts_at": 1e300}',
            "starts_at",
            id="epoch-1e300",
        ),
    ],
)
def test_a_time_out_of_range_in_an_optional_field_is_emptied_not_a_5xx(
    client: TestClient, runtime: Runtime, source: str, body: bytes, field: str
) -> None:
    """A start time is optional: past 9999 in UTC it is left empty (docs/sources.md) and the alert
    is kept, so one bad clock neither loses the page nor stalls the workers (issue 13, finding 2)."""
    response = client.post(f"/webhooks/{source}", content=body, headers=JSON)
    assert response.status_code == 202, response.text
    assert count(runtime, RawEvent) == 1 and count(runtime, DeadLetter) == 0
    assert metric_value(runtime, "conductor_alert_fields_emptied_total", source=source, field=field) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/incidents/9223372036854775808",
        "/api/incidents/-1",
        "/api/runs/99999999999999999999",
        "/api/incidents/1e3",
    ],
)
def test_ids_out_of_range_are_4xx(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert 400 <= response.status_code < 500 and response.status_code not in (401, 403), response.text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"matchers": ["alertname=X"], "duration_minutes": 1e12}, id="duration-1e12"),
        pytest.param(
            {"matchers": ["alertname=X"], "ends_at": "9999-12-31T23:59:59-23:59"}, id="ends-at-past-9999"
        ),
        pytest.param({"matchers": ["alertname=X"], "ends_at": "2020-01-01T00:00:00Z"}, id="ends-in-the-past"),
        pytest.param({"matchers": ["alertname=~(unclosed"], "duration_minutes": 5}, id="bad-regex"),
    ],
)
def test_silences_out_of_range_are_4xx_and_store_nothing(
    client: TestClient, runtime: Runtime, body: dict[str, object]
) -> None:
    response = client.post("/api/silences", json=body)
    assert 400 <= response.status_code < 500 and response.status_code not in (401, 403), response.text
    assert count(runtime, Silence) == 0
