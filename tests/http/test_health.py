from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from bot.http.app import create_app
from bot.runtime import Runtime
from tests.http.conftest import make_runtime, metric_value


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


def test_readyz_reports_store_and_migrations(client: TestClient, runtime: Runtime) -> None:
    assert client.get("/readyz").json() == {
        "status": "ready",
        "store": "ok",
        "intake": "ok",
        "backlog": {"oldest_pending_event_age_seconds": None, "oldest_queued_job_age_seconds": None},
    }
    with runtime.store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "migrations not current" in response.json()["store"]


def test_metrics_in_prometheus_text_format(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_TOKEN_PROMETHEUS", "scrape-token")
    token = {"name": "prometheus", "secret_env": "CONDUCTOR_TOKEN_PROMETHEUS", "role": "viewer"}
    runtime = make_runtime(data_dir, permissions={"api_tokens": [token]})
    with TestClient(create_app(runtime)) as client:
        client.get("/healthz")
        client.post("/webhooks/generic", json={"name": "x", "status": "firing"})
        assert client.get("/metrics").status_code == 401
        response = client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    runtime.store.dispose()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert 'conductor_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert "conductor_http_request_duration_seconds_bucket" in body
    assert 'conductor_work_queue_depth{queue="jobs"}' in body
    assert 'conductor_work_queue_oldest_age_seconds{queue="raw_events"}' in body
    assert 'conductor_webhooks_total{outcome="accepted",source="generic"} 1.0' in body


def test_request_id_is_echoed(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc123"}).headers["x-request-id"] == "abc123"


def test_readyz_shows_how_old_the_backlog_is(client: TestClient, runtime: Runtime) -> None:
    from datetime import timedelta

    from bot.jobs import enqueue

    with runtime.store.transaction() as session:
        enqueue(session, kind="stuck", payload={}, now=runtime.clock() - timedelta(minutes=5))
    backlog = client.get("/readyz").json()["backlog"]
    assert backlog["oldest_queued_job_age_seconds"] >= 300
    assert metric_value(runtime, "conductor_work_queue_oldest_age_seconds", queue="jobs") >= 300


def test_readyz_turns_unready_once_draining(client: TestClient, runtime: Runtime) -> None:
    assert client.get("/readyz").status_code == 200
    runtime.begin_drain()  # what SIGTERM does (bot.server.DrainingServer)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready" and response.json()["draining"] is True
    assert client.get("/healthz").status_code == 200  # still alive: not to be restarted
