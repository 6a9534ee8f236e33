"""/api/freezes, /api/circuits and "Run it" over HTTP: roles, bad input (clear 4xx, nothing stored),
and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.audit import list_audit
from bot.engine.requests import RunRequest
from bot.http.app import create_app
from bot.runtime import Runtime
from bot.store.models import Circuit, Freeze, RunbookRun
from tests.http.conftest import make_runtime

TOKENS = {
    "viewer": ("TOKEN_VIEWER", "t-viewer", "viewer"),
    "responder": ("TOKEN_RESPONDER", "t-responder", "responder"),
    "approver": ("TOKEN_APPROVER", "t-approver", "approver"),
}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][1]}"}


@pytest.fixture
def runtime(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    for env, secret, _role in TOKENS.values():
        monkeypatch.setenv(env, secret)
    monkeypatch.delenv("CONDUCTOR_API_TOKEN", raising=False)
    tokens = [{"name": n, "secret_env": env, "role": role} for n, (env, _s, role) in TOKENS.items()]
    monkeypatch.setenv("HOOK_SECRET", "k")
    hooks = {"webhooks": {"ops": {"url": "https://127.0.0.1:9/hook", "secret_env": "HOOK_SECRET"}}}
    rt = make_runtime(data_dir, permissions={"api_tokens": tokens}, downstream=hooks)
    yield rt
    rt.store.dispose()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, background=False)) as test_client:
        yield test_client


def freezes(runtime: Runtime) -> list[Freeze]:
    with runtime.store.sessions() as session:
        return list(session.scalars(select(Freeze)))


def test_an_approver_adds_lists_and_ends_a_freeze(client: TestClient, runtime: Runtime) -> None:
    body = {"name": "release", "match": ["service=orders"], "duration_minutes": 120, "comment": "v2 rollout"}
    created = client.post("/api/freezes", json=body, headers=bearer("approver"))
    assert created.status_code == 201, created.text
    freeze = created.json()
    assert (
        freeze["active"] and freeze["scope"] == 'service="orders"' and freeze["created_by"] == "api:approver"
    )

    listed = client.get("/api/freezes", headers=bearer("viewer")).json()["freezes"]
    assert [f["id"] for f in listed] == [freeze["id"]]

    ended = client.post(f"/api/freezes/{freeze['id']}/end", headers=bearer("approver"))
    assert ended.status_code == 200 and ended.json()["ended_by"] == "api:approver"
    assert client.post(f"/api/freezes/{freeze['id']}/end", headers=bearer("approver")).status_code == 409
    assert client.post("/api/freezes/999/end", headers=bearer("approver")).status_code == 404
    with runtime.store.sessions() as session:
        actions = [r.action for r in list_audit(session, subject=f"freeze:{freeze['id']}")]
    assert sorted(actions) == ["freeze.added", "freeze.ended"]


def test_a_recurring_freeze(client: TestClient) -> None:
    body = {
        "name": "nightly",
        "cron": "0 1 * * *",
        "window_minutes": 90,
        "timezone": "Europe/Berlin",
        "block": True,
    }
    created = client.post("/api/freezes", json=body, headers=bearer("approver"))
    assert created.status_code == 201, created.text
    assert created.json()["cron"] == "0 1 * * *" and created.json()["next_window_at"] is not None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"name": "x", "match": ["team=a"], "duration_minutes": 5}, "scope is one of", id="bad-scope"
        ),
        pytest.param({"name": "x"}, "--duration or --until", id="no-end"),
        pytest.param({"name": "x", "cron": "0 1 * * *"}, "--window", id="cron-without-window"),
        pytest.param({"name": "x", "cron": "nope", "window_minutes": 5}, "cron 'nope'", id="bad-cron"),
        pytest.param(
            {"name": "x", "duration_minutes": 5, "timezone": "Nowhere/X"}, "time zone", id="bad-zone"
        ),
        pytest.param(
            {"name": "x", "starts_at": "9999-12-31T00:00:00Z", "duration_minutes": 5_000_000},
            "calendar",
            id="past-the-calendar",
        ),
    ],
)
def test_bad_freezes_get_400_and_store_nothing(
    client: TestClient, runtime: Runtime, body: dict[str, object], message: str
) -> None:
    answer = client.post("/api/freezes", json=body, headers=bearer("approver"))
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["detail"]
    assert freezes(runtime) == []


def test_a_responder_may_not_freeze_or_resume(client: TestClient, runtime: Runtime) -> None:
    body = {"name": "release", "duration_minutes": 60}
    assert client.post("/api/freezes", json=body, headers=bearer("responder")).status_code == 403
    assert (
        client.post("/api/circuits/resume", json={"scope": "x"}, headers=bearer("responder")).status_code
        == 403
    )
    assert client.post("/api/freezes", json=body).status_code == 401
    assert freezes(runtime) == []


def test_resume_closes_an_open_circuit(client: TestClient, runtime: Runtime) -> None:
    now = runtime.clock()
    with runtime.store.transaction() as session:
        session.add(
            Circuit(
                scope="runbook:aws.ecs.scale_service",
                opened_at=now,
                reason="3 bad runs",
                run_ids=[1, 2, 3],
                closed_by="",
            )
        )
    listed = client.get("/api/circuits", headers=bearer("viewer")).json()["circuits"]
    assert [c["scope"] for c in listed] == ["runbook:aws.ecs.scale_service"]
    answer = client.post(
        "/api/circuits/resume", json={"scope": "aws.ecs.scale_service"}, headers=bearer("approver")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["closed"][0]["closed_by"] == "api:approver"
    assert client.get("/api/circuits", headers=bearer("viewer")).json()["circuits"] == []
    again = client.post(
        "/api/circuits/resume", json={"scope": "aws.ecs.scale_service"}, headers=bearer("approver")
    )
    assert again.status_code == 404
    assert (
        client.post("/api/circuits/resume", json={"scope": "team:x"}, headers=bearer("approver")).status_code
        == 400
    )


def test_run_it_on_a_suggestion_needs_a_responder_and_works_once(
    client: TestClient, runtime: Runtime
) -> None:
    outcome = runtime.engine.request(
        RunRequest(
            "webhook.post",
            "webhook:endpoint/ops",
            {"incident_id": "9", "title": "t"},
            requested_by="rule:r",
            rule="r",
            mode="suggest",
        )
    )
    assert outcome.status == "suggested", outcome.reason
    path = f"/api/runs/{outcome.run_id}/run"
    assert client.post(path, headers=bearer("viewer")).status_code == 403
    taken = client.post(path, headers=bearer("responder"))
    assert taken.status_code == 200, taken.text
    assert taken.json()["run_id"] != outcome.run_id
    assert client.post(path, headers=bearer("responder")).status_code == 409
    assert client.post("/api/runs/999/run", headers=bearer("responder")).status_code == 404
    with runtime.store.sessions() as session:
        run = session.get(RunbookRun, taken.json()["run_id"])
        assert run is not None and run.requested_by == "api:responder"
    queued = client.get("/api/runs?status=suggested", headers=bearer("viewer")).json()["runs"]
    assert [r["id"] for r in queued] == [outcome.run_id]


def test_alerts_a_maintenance_window_marked_are_listed(client: TestClient, runtime: Runtime) -> None:
    from bot.alerts.normalized import AlertStatus, NormalizedAlert, Provider, Resource
    from bot.config.settings import IncidentSettings
    from bot.incidents.apply import apply_alerts

    body = {"name": "db upgrade", "match": ["service=orders"], "duration_minutes": 60, "maintenance": True}
    window = client.post("/api/freezes", json=body, headers=bearer("approver")).json()
    now = runtime.clock()
    alerts = [
        NormalizedAlert(
            source="generic",
            fingerprint=f"fp-{service}",
            name="Latency",
            status=AlertStatus.FIRING,
            labels={"service": service},
            resource=Resource(provider=Provider.AWS, id=service),
        )
        for service in ("orders", "billing")
    ]
    with runtime.store.transaction() as session:
        apply_alerts(
            session, alerts, settings=IncidentSettings(), muting=runtime.muting(session, now), now=now
        )
    marked = client.get("/api/alerts?muted=maintenance", headers=bearer("viewer")).json()["alerts"]
    assert [(a["labels"]["service"], a["muted_reason"]) for a in marked] == [
        ("orders", f"maintenance:{window['id']}")
    ]
    everything = client.get("/api/alerts", headers=bearer("viewer")).json()["alerts"]
    assert {a["labels"]["service"] for a in everything} == {"orders", "billing"}
    assert client.get("/api/alerts?muted=bogus", headers=bearer("viewer")).status_code == 422
