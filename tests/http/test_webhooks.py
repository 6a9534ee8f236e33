"""POST /webhooks/{source}: 202 only after the body is stored; bad input changes nothing.

Every test runs with the intake process (the default) and with the inline intake."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.deadletters import replay_dead_letter
from bot.http.app import create_app
from bot.ingest.parsing import make_parse
from bot.runtime import Runtime
from bot.store.models import Alert, DeadLetter, Incident, RawEvent
from integrations.aws import eventbridge
from integrations.aws.service_events import glue_job_alerts
from tests.http.conftest import make_runtime, metric_value

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
    group["alerts"][-1]["status"] = "pending"
    response = client.post("/webhooks/alertmanager", json=group)
    assert response.status_code == 400
    assert response.json()["error"] == (
        f"alerts[{len(group['alerts']) - 1}].status: expected firing or resolved, got 'pending'"
    )
    assert count(runtime, RawEvent) == 0 and count(runtime, DeadLetter) == 1


def test_an_unsupported_event_is_acknowledged_then_kept_as_a_dead_letter(
    client: TestClient, runtime: Runtime
) -> None:
    event = json.loads((FIXTURES / "aws_eventbridge__glue_job_state_change_FAILED_awsdocs.json").read_bytes())
    event.update({"source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption Warning"})
    response = client.post("/webhooks/eventbridge", json=event)
    assert response.status_code == 202
    assert (response.json()["kind"], response.json()["alerts"]) == ("unsupported", 0)
    wait_processed(runtime)
    event_type = "aws.ec2: EC2 Spot Instance Interruption Warning"
    with runtime.store.sessions() as session:
        raw = session.scalars(select(RawEvent)).one()
        letter = session.scalars(select(DeadLetter)).one()
        assert raw.status == "failed"
        assert (letter.reason, letter.raw_event_id) == (f"unsupported event type {event_type}", raw.id)
        assert session.scalars(select(Alert)).all() == []
    assert (
        metric_value(runtime, "conductor_alerts_unsupported_total", source="eventbridge", type=event_type)
        == 1
    )


def test_an_unsupported_dead_letter_is_queued_again_once_a_parser_handles_it(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = json.loads((FIXTURES / "aws_eventbridge__glue_job_state_change_FAILED_awsdocs.json").read_bytes())
    event["detail-type"] = "Glue Job State Change (v2)"  # a type this release does not know
    assert client.post("/webhooks/eventbridge", json=event).status_code == 202
    wait_processed(runtime)
    parse = make_parse(runtime.settings)
    now = datetime.now(UTC)
    assert replay_dead_letter(runtime.store, 1, parse=parse, now=now) == (
        "still unsupported: event type aws.glue: Glue Job State Change (v2)"
    )
    # The next release reads it like Glue Job State Change: replay queues the very raw event
    # (its idempotency key is taken by it), which the workers now turn into the alert.
    handlers = {**eventbridge._HANDLERS, ("aws.glue", "Glue Job State Change (v2)"): glue_job_alerts}
    monkeypatch.setattr(eventbridge, "_HANDLERS", handlers)
    assert replay_dead_letter(runtime.store, 1, parse=parse, now=now) == "queued as raw event 1"
    wait_processed(runtime)
    with runtime.store.sessions() as session:
        assert session.scalars(select(Alert)).one().name == "GlueJobFailed"
        assert session.get(RawEvent, 1).status == "done"  # type: ignore[union-attr]


def test_a_bad_optional_field_is_emptied_counted_and_the_alert_kept(
    client: TestClient, runtime: Runtime
) -> None:
    payload = json.loads((FIXTURES / "gcp_monitoring__incident_open_v1.2.json").read_bytes())
    payload["incident"]["ended_at"] = "null"
    response = client.post("/webhooks/gcp", json=payload)
    assert (response.status_code, response.json()["alerts"]) == (202, 1)
    wait_processed(runtime)
    with runtime.store.sessions() as session:
        assert session.scalars(select(Incident)).one().status == "open"
    assert count(runtime, DeadLetter) == 0
    assert (
        metric_value(runtime, "conductor_alert_fields_emptied_total", source="gcp", field="incident.ended_at")
        == 1
    )


def test_a_bad_essential_field_is_still_a_400_with_the_reason(client: TestClient, runtime: Runtime) -> None:
    payload = json.loads((FIXTURES / "gcp_monitoring__incident_open_v1.2.json").read_bytes())
    payload["incident"]["incident_id"] = {"id": 1}
    response = client.post("/webhooks/gcp", json=payload)
    assert response.status_code == 400
    assert response.json()["error"] == "incident.incident_id: expected a string, got an object"
    assert count(runtime, RawEvent) == 0 and count(runtime, DeadLetter) == 1
