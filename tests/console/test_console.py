"""The web console through its ASGI interface: sign-in gives a hardened session cookie, pages read
with no script, forms need the session's CSRF token, and actions follow the roles and the audit
of the API (approve as an approver; a viewer is refused and the refusal is audited)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.audit import list_audit
from bot.engine.requests import RunRequest
from bot.http.app import create_app
from bot.runtime import Runtime
from bot.store.models import Approval, Incident, RunbookRun
from tests.fakes.moto_server import MotoServer
from tests.http.conftest import make_runtime

REBOOT = "aws.ec2.reboot_instance"
TOKENS = {"viewer": ("TOK_VIEW", "t-view", "viewer"), "approver": ("TOK_APPROVE", "t-approve", "approver")}


@pytest.fixture
def runtime(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    for env, secret, _role in TOKENS.values():
        monkeypatch.setenv(env, secret)
    monkeypatch.setenv("CONDUCTOR_CONSOLE_SECRET", "test-signing-key")
    tokens = [{"name": name, "secret_env": env, "role": role} for name, (env, _s, role) in TOKENS.items()]
    rt = make_runtime(
        data_dir,
        permissions={"api_tokens": tokens},
        approvals={"approvers": {REBOOT: {"users": ["api:approver"]}}},
    )
    yield rt
    rt.store.dispose()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, background=False), follow_redirects=False) as c:
        yield c


def sign_in(client: TestClient, who: str) -> str:
    answer = client.post("/ui/login", data={"token": TOKENS[who][1], "next": "/ui/approvals"})
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/approvals"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    page = client.get("/ui/approvals")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


def pending_approval(runtime: Runtime) -> int:
    ec2 = boto3.client("ec2")
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    outcome = runtime.engine.request(
        RunRequest(REBOOT, f"aws:ec2:instance/{instance}", requested_by="alice", manual=True)
    )
    assert outcome.approval_id is not None
    return outcome.approval_id


def test_pages_need_a_session(client: TestClient) -> None:
    for path in ("/ui/incidents", "/ui/incidents/1", "/ui/approvals", "/ui/silences", "/ui/kpis"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login?next=")
    bad = client.post("/ui/login", data={"token": "guess", "next": "/ui/incidents"})
    assert bad.status_code == 401 and "not a configured API token" in bad.text
    assert "set-cookie" not in bad.headers
    client.cookies.set("conductor_session", "eyJ0Ijoidmlld2VyIn0.forged.sig", path="/ui")
    forged = client.get("/ui/incidents")
    assert forged.status_code == 303


def test_reading_works_without_javascript(client: TestClient, runtime: Runtime) -> None:
    now = runtime.clock()
    with runtime.store.transaction() as session:
        session.add(
            Incident(
                group_key="g",
                open_group_key="g",
                title="Disk full on i-1",
                severity="error",
                opened_at=now,
                updated_at=now,
            )
        )
    sign_in(client, "viewer")
    for path in (
        "/ui/incidents",
        "/ui/incidents/1",
        "/ui/approvals",
        "/ui/silences",
        "/ui/kpis",
        "/ui/incidents?status=all&severity=error&q=disk",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<script" not in page.text
        assert "script-src 'none'" in page.headers["content-security-policy"]
    assert "Disk full on i-1" in client.get("/ui/incidents?severity=error").text
    assert "Disk full on i-1" not in client.get("/ui/incidents?severity=critical").text
    assert client.get("/ui/kpis/chart.png").content.startswith(b"\x89PNG")
    assert client.get("/ui/static/console.css").status_code == 200
    assert client.get("/ui/incidents/99").status_code == 404


def test_an_approver_approves_and_a_viewer_is_refused(
    client: TestClient, runtime: Runtime, moto: MotoServer
) -> None:
    approval_id = pending_approval(runtime)
    csrf = sign_in(client, "viewer")
    refused = client.post(f"/ui/approvals/{approval_id}", data={"decision": "approve", "csrf": csrf})
    assert refused.status_code == 403 and "api:viewer" in refused.text
    client.cookies.clear()
    csrf = sign_in(client, "approver")
    no_token = client.post(f"/ui/approvals/{approval_id}", data={"decision": "approve"})
    assert no_token.status_code == 403 and "reload the page" in no_token.text
    done = client.post(
        f"/ui/approvals/{approval_id}", data={"decision": "approve", "csrf": csrf, "reason": "ok"}
    )
    assert done.status_code == 303 and "approved" in done.headers["location"]
    with runtime.store.sessions() as session:
        approval = session.get(Approval, approval_id)
        assert (
            approval is not None and approval.status == "approved" and approval.decided_by == "api:approver"
        )
        run = session.scalars(select(RunbookRun)).one()
        assert run.status == "approved"
        entries = list_audit(session, limit=100)
    actions = [(e.actor, e.action) for e in entries]
    assert ("api:viewer", "approval.refused") in actions or ("api:viewer", "access.refused") in actions
    assert ("api:approver", "console.signed_in") in actions
    again = client.post(f"/ui/approvals/{approval_id}", data={"decision": "deny", "csrf": csrf})
    assert again.status_code == 409


def test_acknowledge_and_silence_follow_roles(client: TestClient, runtime: Runtime) -> None:
    now = runtime.clock()
    with runtime.store.transaction() as session:
        session.add(Incident(group_key="g", open_group_key="g", title="t", opened_at=now, updated_at=now))
    csrf = sign_in(client, "viewer")
    assert client.post("/ui/incidents/1/ack", data={"csrf": csrf}).status_code == 403
    assert client.post("/ui/silences", data={"matchers": "alertname=X", "csrf": csrf}).status_code == 403
    client.cookies.clear()
    csrf = sign_in(client, "approver")
    assert client.post("/ui/incidents/1/ack", data={"csrf": csrf}).status_code == 303
    added = client.post("/ui/silences", data={"matchers": "alertname=X", "duration": "2h", "csrf": csrf})
    assert added.status_code == 303
    bad = client.post("/ui/silences", data={"matchers": "alertname=~(", "csrf": csrf})
    assert bad.status_code == 400
    assert "alertname" in client.get("/ui/silences").text
    with runtime.store.sessions() as session:
        incident = session.get(Incident, 1)
        assert incident is not None and incident.acknowledged_by == "api:approver"


def test_the_incident_page_shows_the_metric_chart_and_the_explanation(
    client: TestClient, runtime: Runtime
) -> None:
    from datetime import timedelta

    now = runtime.clock()
    stamps = [(now - timedelta(minutes=5 * (20 - i))).isoformat() for i in range(20)]
    values = [40.0] * 17 + [95.0, 97.0, 96.0]
    scores = [0.1] * 17 + [0.995, 0.999, 0.998]
    with runtime.store.transaction() as session:
        session.add(
            Incident(
                group_key="g", open_group_key="g", title="HighCPU on api", opened_at=now, updated_at=now,
                anomaly_status="ok", anomaly_score=0.999, anomaly_threshold=0.99,
                explanation="CPU 97% is 11 sigma above its daily pattern",
                evidence={"key": "AWS/ECS CPUUtilization", "unit": "Percent", "timestamps": stamps,
                          "values": values, "scores": scores, "threshold": 0.99},
                decision="auto_run",
                decision_reason="risk medium and anomaly score 0.999: runs automatically",
            )
        )  # fmt: skip
    sign_in(client, "viewer")
    page = client.get("/ui/incidents/1").text
    assert "CPU 97% is 11 sigma above its daily pattern" in page
    assert "risk medium and anomaly score 0.999: runs automatically" in page
    assert 'src="/ui/incidents/1/chart.png"' in page
    chart = client.get("/ui/incidents/1/chart.png")
    assert chart.headers["content-type"] == "image/png" and chart.content.startswith(b"\x89PNG")
