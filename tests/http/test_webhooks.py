"""POST /webhooks/{source}: 202 only after the body is stored; bad input changes nothing.

Every test runs with the intake process (the default) and with the inline intake."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.http.app import create_app
from bot.runtime import Runtime
from bot.store.models import Alert, DeadLetter, Incident, RawEvent
from tests.http.conftest import make_runtime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"


@pytest.fixture(params=["process", "inline"])
def intake(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def runtime(data_dir: Path, intake: str) -> Iterator[Runtime]:
    rt = make_runtime(data_dir, ingest={"intake": intake})
    yield rt
    rt.store.dispose()


def count(runtime: Runtime, model: type) -> int:
    with runtime.store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def wait_processed(runtime: Runtime, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runtime.pending_raw_events() == 0:
            return
        time.sleep(0.02)
    raise AssertionError("raw events were not processed in time")


def alert_body(name: str = "DiskFull", status: str = "firing", **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "status": status,
        "severity": "error",
        "resource": {"provider": "aws", "type": "ec2:instance", "id": "i-0abc"},
        **extra,
    }


def test_accepted_webhook_is_stored_then_processed_into_an_incident(
    client: TestClient, runtime: Runtime
) -> None:
    response = client.post("/webhooks/generic", json=alert_body())
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted" and body["duplicate"] is False and body["alerts"] == 1
    with runtime.store.sessions() as session:
        raw = session.get(RawEvent, body["raw_event_id"])
        assert raw is not None and json.loads(raw.body)["name"] == "DiskFull"
    wait_processed(runtime)
    with runtime.store.sessions() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.title == "DiskFull on i-0abc" and incident.severity == "error"
        assert session.scalars(select(Alert)).one().incident_id == incident.id


def test_alertmanager_group_from_two_replicas_is_processed_once(client: TestClient, runtime: Runtime) -> None:
    a = (FIXTURES / "alertmanager__mixed_group_k8s_replica_a.json").read_bytes()
    b = (FIXTURES / "alertmanager__mixed_group_k8s_replica_b.json").read_bytes()
    first = client.post("/webhooks/alertmanager", content=a, headers={"content-type": "application/json"})
    second = client.post("/webhooks/alertmanager", content=b, headers={"content-type": "application/json"})
    assert first.status_code == second.status_code == 202
    assert first.json()["duplicate"] is False and second.json()["duplicate"] is True
    wait_processed(runtime)
    with runtime.store.sessions() as session:
        raw = session.scalars(select(RawEvent)).one()
        assert raw.duplicates == 1
        assert all(a.deliveries == 1 for a in session.scalars(select(Alert)))


def test_unauthenticated_gets_401_and_stores_nothing(
    data_dir: Path, intake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AM_TOKEN", "s3cret-token")
    monkeypatch.setenv("GENERIC_USERS", "ops:s3cret-token")
    runtime = make_runtime(
        data_dir,
        ingest={
            "intake": intake,
            "allow_unauthenticated": False,
            "auth": {
                "alertmanager": {"mode": "bearer", "secret_env": "AM_TOKEN"},
                "generic": {"mode": "basic", "secret_env": "GENERIC_USERS"},
            },
        },
    )
    with TestClient(create_app(runtime)) as client:
        body = (FIXTURES / "alertmanager__mixed_group_k8s_replica_a.json").read_bytes()
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic Zm9vOmJhcg=="}):
            response = client.post(
                "/webhooks/alertmanager",
                content=body,
                headers={"content-type": "application/json", **headers},
            )
            assert response.status_code == 401
        # a source with no auth entry is closed once allow_unauthenticated is false
        assert client.post("/webhooks/datadog", json={"id": "1"}).status_code == 401
        assert count(runtime, RawEvent) == 0 and count(runtime, DeadLetter) == 0
        ok = client.post(
            "/webhooks/alertmanager",
            content=body,
            headers={"content-type": "application/json", "authorization": "Bearer s3cret-token"},
        )
        assert ok.status_code == 202
        basic = base64.b64encode(b"ops:s3cret-token").decode()
        assert (
            client.post(
                "/webhooks/generic", json=alert_body(), headers={"authorization": f"Basic {basic}"}
            ).status_code
            == 202
        )
    assert count(runtime, RawEvent) == 2


def test_malformed_gets_400_with_reason_and_a_dead_letter(client: TestClient, runtime: Runtime) -> None:
    response = client.post("/webhooks/generic", json={"name": "x", "status": "exploded"})
    assert response.status_code == 400
    assert "status" in response.json()["error"] and response.json()["dead_lettered"] is True
    not_json = client.post(
        "/webhooks/alertmanager", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert count(runtime, RawEvent) == 0 and count(runtime, Alert) == 0
    with runtime.store.sessions() as session:
        letters = session.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
    assert [d.source for d in letters] == ["generic", "alertmanager"]
    assert letters[1].body == b"{not json"


def test_oversized_body_gets_413(data_dir: Path, intake: str) -> None:
    runtime = make_runtime(data_dir, ingest={"intake": intake, "max_body_bytes": 2048})
    with TestClient(create_app(runtime)) as client:
        response = client.post("/webhooks/generic", json=alert_body(description="x" * 4096))
        assert response.status_code == 413
    assert count(runtime, RawEvent) == 0 and count(runtime, DeadLetter) == 0


def test_wrong_method_content_type_and_source(client: TestClient, runtime: Runtime) -> None:
    assert client.get("/webhooks/generic").status_code == 405
    assert (
        client.post(
            "/webhooks/generic", content=b"<xml/>", headers={"content-type": "application/xml"}
        ).status_code
        == 415
    )
    assert client.post("/webhooks/nagios", json=alert_body()).status_code == 404
    assert count(runtime, RawEvent) == 0


def test_sns_text_plain_body_is_accepted(client: TestClient, runtime: Runtime) -> None:
    body = (FIXTURES / "cloudwatch_sns__single_metric_ecs_service_ALARM.json").read_bytes()
    response = client.post(
        "/webhooks/cloudwatch",
        content=body,
        headers={"content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"},
    )
    assert response.status_code == 202, response.text
    again = client.post(
        "/webhooks/cloudwatch", content=body, headers={"content-type": "text/plain; charset=UTF-8"}
    )
    assert again.json()["duplicate"] is True
    wait_processed(runtime)
    with runtime.store.sessions() as session:
        assert session.scalars(select(Incident)).one().provider == "aws"


def test_a_malformed_alert_deep_in_a_group_gets_400_before_anything_is_stored(
    client: TestClient, runtime: Runtime
) -> None:
    group = json.loads((FIXTURES / "alertmanager__mixed_group_k8s_replica_a.json").read_bytes())
    group["alerts"][-1]["startsAt"] = "yesterday"
    response = client.post("/webhooks/alertmanager", json=group)
    assert response.status_code == 400
    assert response.json()["error"] == (
        f"alerts[{len(group['alerts']) - 1}].startsAt: not an ISO 8601 time: 'yesterday'"
    )
    assert count(runtime, RawEvent) == 0 and count(runtime, DeadLetter) == 1
