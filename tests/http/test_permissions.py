"""Roles over HTTP (issue 13, finding 5): named API tokens, the read check on /api, /metrics and
the docs, silence guardrails, and approvals that no token can forge — driven through the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.audit import list_audit
from bot.engine.requests import RunRequest
from bot.http.app import create_app
from bot.runtime import Runtime
from bot.store.models import ApprovalVote, Incident, Silence
from tests.fakes.moto_server import MotoServer
from tests.http.conftest import make_runtime

TOKENS = {  # name -> (env var, secret, role, trusted proxy)
    "dashboards": ("TOKEN_DASHBOARDS", "t-viewer", "viewer", False),
    "oncall-bot": ("TOKEN_ONCALL", "t-responder", "responder", False),
    "deploys": ("TOKEN_DEPLOYS", "t-approver", "approver", False),
    "sre-admin": ("TOKEN_ADMIN", "t-admin", "admin", False),
    "portal": ("TOKEN_PORTAL", "t-proxy", "approver", True),
}
REBOOT = "aws.ec2.reboot_instance"  # high risk, always asks
APPROVALS = {"approvers": {REBOOT: {"users": ["bob", "carol", "api:deploys"], "quorum": 2}}}


def bearer(name: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][1]}", **extra}


@pytest.fixture
def runtime(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    for env, secret, _role, _proxy in TOKENS.values():
        monkeypatch.setenv(env, secret)
    monkeypatch.delenv("CONDUCTOR_API_TOKEN", raising=False)
    tokens = [
        {"name": name, "secret_env": env, "role": role, "trusted_proxy": proxy}
        for name, (env, _secret, role, proxy) in TOKENS.items()
    ]
    rt = make_runtime(data_dir, permissions={"api_tokens": tokens}, approvals=APPROVALS)
    yield rt
    rt.store.dispose()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, background=False)) as test_client:
        yield test_client


def open_incident(runtime: Runtime) -> int:
    now = runtime.clock()
    with runtime.store.transaction() as session:
        incident = Incident(
            group_key="g", open_group_key="g", title="Disk full", opened_at=now, updated_at=now
        )
        session.add(incident)
        session.flush()
        return incident.id


def refusals(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.store.sessions() as session:
        return [
            {"actor": e.actor, **e.details}
            for e in list_audit(session, limit=500)
            if e.action in ("access.refused", "approval.refused")
        ]


@pytest.mark.parametrize(
    "path", ["/api/incidents", "/api/runs", "/api/approvals", "/api/audit", "/api/silences", "/api/sweeps"]
)
def test_reading_the_api_needs_a_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer guess"}).status_code == 401
    assert client.get(path, headers=bearer("dashboards")).status_code == 200


def test_metrics_and_docs_need_a_token_but_health_checks_do_not(client: TestClient) -> None:
    for path in ("/metrics", "/api/docs", "/api/openapi.json"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=bearer("dashboards")).status_code == 200, path
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").json()["store"] == "ok"  # answered (503 here: no intake without a lifespan)


def test_the_config_can_open_reading_to_anyone(data_dir: Path) -> None:
    runtime = make_runtime(data_dir, permissions={"anonymous_read": ["api", "metrics", "docs"]})
    try:
        with TestClient(create_app(runtime, background=False)) as client:
            for path in ("/api/incidents", "/metrics", "/api/docs", "/api/openapi.json"):
                assert client.get(path).status_code == 200, path
            incident_id = open_incident(runtime)
            assert (
                client.post(f"/api/incidents/{incident_id}/ack").status_code == 401
            )  # changes still need one
    finally:
        runtime.store.dispose()


def test_each_change_needs_its_role_and_is_done_as_the_named_token(
    client: TestClient, runtime: Runtime
) -> None:
    incident_id = open_incident(runtime)
    refused = client.post(f"/api/incidents/{incident_id}/ack", headers=bearer("dashboards"))
    assert refused.status_code == 403 and "role_too_low" in refused.json()["detail"]
    assert refusals(runtime) == [
        {
            "actor": "api:dashboards",
            "attempt": "incident.acknowledge",
            "reason": "role_too_low",
            "detail": "api:dashboards has the viewer role; incident.acknowledge needs responder",
        }
    ]
    assert client.post(f"/api/incidents/{incident_id}/ack", headers=bearer("oncall-bot")).status_code == 200
    with runtime.store.sessions() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None and incident.acknowledged_by == "api:oncall-bot"


CPU, ALL = ["alertname=HighCPU"], ['alertname=~".*"']
DAYS_90 = 90 * 24 * 60


@pytest.mark.parametrize(
    ("token", "matchers", "minutes", "status", "reason"),
    [
        pytest.param("dashboards", CPU, 60, 403, "role_too_low", id="viewer"),
        pytest.param("oncall-bot", CPU, 60, 201, "", id="responder-one-alert"),
        pytest.param("oncall-bot", ALL, 60, 403, "silence_matches_everything", id="match-all"),
        pytest.param(
            "deploys", ['env=~".*"', "team!=x"], 60, 403, "silence_matches_everything", id="all-match-empty"
        ),
        pytest.param("oncall-bot", CPU, DAYS_90, 403, "silence_too_long", id="90-days"),
        pytest.param("sre-admin", ALL, DAYS_90, 201, "", id="admin"),
    ],
)
def test_silence_guardrails(
    client: TestClient,
    runtime: Runtime,
    token: str,
    matchers: list[str],
    minutes: int,
    status: int,
    reason: str,
) -> None:
    body = {"matchers": matchers, "duration_minutes": minutes}
    answer = client.post("/api/silences", json=body, headers=bearer(token))
    assert answer.status_code == status, answer.text
    with runtime.store.sessions() as session:
        stored = session.scalars(select(Silence)).all()
    if status == 201:
        assert [s.created_by for s in stored] == [f"api:{token}"]
    else:
        assert stored == [] and reason in answer.json()["detail"]
        assert [r["reason"] for r in refusals(runtime)] == [reason]


@pytest.fixture
def approval(runtime: Runtime, moto: MotoServer) -> int:
    ec2 = boto3.client("ec2")
    reservation = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro")
    instance = reservation["Instances"][0]["InstanceId"]
    outcome = runtime.engine.request(
        RunRequest(REBOOT, f"aws:ec2:instance/{instance}", requested_by="alice", manual=True)
    )
    assert outcome.status == "awaiting_approval" and outcome.approval_id is not None
    return outcome.approval_id


def votes(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.store.sessions() as session:
        return [(v.user, v.decision) for v in session.scalars(select(ApprovalVote))]


def test_a_token_cannot_approve_as_anyone_it_names(
    client: TestClient, runtime: Runtime, approval: int
) -> None:
    """Before, any token holder could name approvers in X-Conductor-User and meet a quorum alone."""
    url, body = f"/api/approvals/{approval}", {"decision": "approve"}
    assert client.post(url, json=body).status_code == 401
    for name in ("bob", "carol"):
        forged = client.post(url, json=body, headers=bearer("sre-admin", **{"X-Conductor-User": name}))
        assert forged.status_code == 403 and "not a trusted proxy" in forged.json()["detail"]
    assert client.post(url, json=body, headers=bearer("sre-admin")).status_code == 403  # not on the rule
    assert votes(runtime) == []
    assert [r["reason"] for r in refusals(runtime)][:2] == ["untrusted_forwarded_user"] * 2
    # a token named in the rule votes as itself: one vote of the two needed
    first = client.post(url, json=body, headers=bearer("deploys"))
    assert first.status_code == 200 and first.json()["approval_status"] == "pending"
    assert client.post(url, json=body, headers=bearer("deploys")).status_code == 409
    assert votes(runtime) == [("api:deploys", "approve")]


def test_a_trusted_proxy_acts_for_the_person_it_names(
    client: TestClient, runtime: Runtime, approval: int
) -> None:
    url, body = f"/api/approvals/{approval}", {"decision": "approve"}
    for name, status in (("mallory", 403), ("alice", 403), ("bob", 200), ("carol", 200)):
        answer = client.post(url, json=body, headers=bearer("portal", **{"X-Conductor-User": name}))
        assert answer.status_code == status, (name, answer.text)
    assert votes(runtime) == [("bob", "approve"), ("carol", "approve")]
    assert client.get(f"/api/runs/{approval}", headers=bearer("dashboards")).json()["status"] == "approved"
    refused = {r["actor"]: r["refusal"] for r in refusals(runtime)}
    assert refused == {"mallory": "role_too_low", "alice": "self_approval"}
    with runtime.store.sessions() as session:
        voted = [
            (e.actor, e.details.get("via"))
            for e in list_audit(session)
            if e.action == "approval.vote_approve"
        ]
    assert voted == [("bob", "api:portal"), ("carol", "api:portal")]
    assert client.post("/api/approvals/999", json=body, headers=bearer("deploys")).status_code == 404


def test_the_old_single_token_is_a_responder_that_cannot_name_approvers(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, moto: MotoServer
) -> None:
    """The reported holes, with a config from before [permissions]: anonymous reads, and one
    token holder approving as two approvers to meet a quorum alone."""
    monkeypatch.setenv("CONDUCTOR_API_TOKEN", "legacy")
    runtime = make_runtime(data_dir, approvals=APPROVALS)
    try:
        with TestClient(create_app(runtime, background=False)) as client:
            assert client.get("/api/incidents").status_code == 401
            assert client.get("/metrics").status_code == 401
            legacy = {"Authorization": "Bearer legacy"}
            assert client.get("/api/incidents", headers=legacy).status_code == 200
            incident_id = open_incident(runtime)
            assert client.post(f"/api/incidents/{incident_id}/ack", headers=legacy).status_code == 200
            ec2 = boto3.client("ec2")
            instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]
            outcome = runtime.engine.request(
                RunRequest(REBOOT, f"aws:ec2:instance/{instance['InstanceId']}", requested_by="alice")
            )
            for name in ("bob", "carol"):
                forged = client.post(
                    f"/api/approvals/{outcome.approval_id}",
                    json={"decision": "approve"},
                    headers={**legacy, "X-Conductor-User": name},
                )
                assert forged.status_code == 403
        assert votes(runtime) == []
        with runtime.store.sessions() as session:
            incident = session.get(Incident, incident_id)
            assert incident is not None and incident.acknowledged_by == "api:default"
    finally:
        runtime.store.dispose()
