"""POST /api/approvals/{id}: token auth, the named approval errors as HTTP statuses, and the decision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient

from bot.engine.requests import RunRequest
from bot.http.app import create_app
from bot.runtime import Runtime
from tests.fakes.moto_server import MotoServer
from tests.http.conftest import make_runtime

TOKEN = "api-test-token"


@pytest.fixture
def instance(moto: MotoServer) -> str:
    ec2 = boto3.client("ec2")
    reservation = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro")
    return str(reservation["Instances"][0]["InstanceId"])


@pytest.fixture
def runtime(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("CONDUCTOR_API_TOKEN", TOKEN)
    rt = make_runtime(data_dir, approvals={"approvers": {"aws.ec2.reboot_instance": {"users": ["bob"]}}})
    yield rt
    rt.store.dispose()


def test_approving_over_the_api(runtime: Runtime, instance: str) -> None:
    outcome = runtime.engine.request(
        RunRequest(
            "aws.ec2.reboot_instance", f"aws:ec2:instance/{instance}", requested_by="alice", manual=True
        )
    )
    assert outcome.status == "awaiting_approval" and outcome.approval_id is not None
    url = f"/api/approvals/{outcome.approval_id}"
    body = {"decision": "approve"}
    auth = {"authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(runtime, background=False)) as client:
        assert client.post(url, json=body).status_code == 401
        assert client.post(url, json=body, headers={"authorization": "Bearer nope"}).status_code == 401
        assert client.post(url, json=body, headers=auth).status_code == 400  # nobody named
        assert client.post(url, json=body, headers={**auth, "x-conductor-user": "mallory"}).status_code == 403
        assert client.post(url, json=body, headers={**auth, "x-conductor-user": "alice"}).status_code == 403
        assert client.get("/api/approvals").json()["approvals"][0]["status"] == "pending"
        decided = client.post(url, json=body, headers={**auth, "x-conductor-user": "bob"})
        assert decided.status_code == 200
        assert decided.json()["run_status"] == "approved"
        assert client.post(url, json=body, headers={**auth, "x-conductor-user": "bob"}).status_code == 409
        assert client.get(f"/api/runs/{outcome.run_id}").json()["status"] == "approved"
        assert (
            client.post(
                "/api/approvals/999", json=body, headers={**auth, "x-conductor-user": "bob"}
            ).status_code
            == 404
        )
