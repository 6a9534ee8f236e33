"""Everything an end-to-end scenario needs: moto (with injectable Glue runs), fake Slack, Jira,
PagerDuty and Azure (HTTPS with a test CA), a config file and a real `conductor serve`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tomli_w
from sqlalchemy import select

from bot.store.db import Store
from tests.e2e.server import ServerProcess
from tests.fakes.azure_arm import FakeAzureArm
from tests.fakes.azure_logs import FakeAzureLogs
from tests.fakes.azure_monitor import AzureMetricsStore
from tests.fakes.glue_failed_runs import GlueMotoServer
from tests.fakes.jira import FakeJira
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.tls import TestTLS
from tests.sns_signing import certificate_pem, new_key, seed_certificate

SLACK_SIGNING_SECRET = "e2e-signing-secret"
PD_ROUTING_KEY = "R0UTINGKEY0000000000000000000ops"
AZURE_TOKEN = "e2e-azure-token"
WORKSPACE = "ws-e2e"
TOPIC = "arn:aws:sns:us-east-1:123456789012:conductor-alarms"


@dataclass
class World:
    tmp: Path
    tls: TestTLS
    aws: GlueMotoServer
    slack: FakeSlack
    jira: FakeJira
    pagerduty: FakePagerDuty
    arm: FakeAzureArm
    logs: FakeAzureLogs
    azure_metrics: AzureMetricsStore
    servers: list[ServerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sns_key = new_key()
        self.sns_cert = certificate_pem(self.sns_key)

    @property
    def data_dir(self) -> Path:
        return self.tmp / "var"

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.aws.url,
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
            "SLACK_API_URL": self.slack.api_url,
            "JIRA_USER": "bot@example.com",
            "JIRA_API_TOKEN": "jira-token",
            "PD_ROUTING_KEY_OPS": PD_ROUTING_KEY,
            "AZURE_ACCESS_TOKEN": AZURE_TOKEN,
            "CONDUCTOR_API_TOKEN": "e2e-api-token",
        }

    def config(self, **overrides: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "data_dir": str(self.data_dir),
            "workers": {"threads": 2, "poll_interval_seconds": 0.05},
            "ingest": {"auth": {"cloudwatch": {"mode": "sns", "allowed_topic_arns": [TOPIC]}}},
            "runbooks": {"verify_timeout_minutes": 0.5, "verify_poll_seconds": 1.0},
            "aws": {"region": "us-east-1"},
            "cloudwatch": {"selection": "list_metrics"},
            "slack": {"default_channel": "C0INCIDENTS"},
            "jira": {"url": self.jira.url, "project": "OPS"},
            "pagerduty": {
                "events_base_url": self.pagerduty.url,
                "ca_bundle": str(self.tls.ca_path),
                "routing_keys": {"ops": "PD_ROUTING_KEY_OPS"},
                "default_service": "ops",
                "retry_sleep_seconds": 0.1,
            },
            "azure": {
                "arm_endpoint": self.arm.url,
                "logs_endpoint": self.logs.url,
                "workspace_id": WORKSPACE,
                "ca_bundle": str(self.tls.ca_path),
                "access_token_env": "AZURE_ACCESS_TOKEN",
                "oom_min_count": 3,
            },
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return base

    def start_server(self, **overrides: Any) -> ServerProcess:
        path = self.tmp / "config.toml"
        text = tomli_w.dumps(self.config(**overrides))
        path.write_text(text)
        seed_certificate(self.data_dir, self.sns_cert)
        server = ServerProcess(path, env=self.env(), log=self.tmp / "serve.log").start()
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def store(self) -> Store:
        return Store.connect(f"sqlite:///{self.data_dir / 'conductor.sqlite3'}")

    def query(self, work: Callable[[Any], Any]) -> Any:
        store = self.store()
        try:
            with store.sessions() as session:
                return work(session)
        finally:
            store.dispose()

    def rows(self, model: Any, *where: Any) -> list[Any]:
        return self.query(lambda s: list(s.scalars(select(model).where(*where).order_by(model.id))))

    def wait_for(self, check: Callable[[], Any], *, timeout: float = 45.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.2)
        logs = "\n".join(s.logs()[-4000:] for s in self.servers)
        raise AssertionError(f"timed out waiting for {what}\n--- server log ---\n{logs}")


def post(server: ServerProcess, path: str, body: bytes | dict[str, Any], **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        f"{server.url}{path}",
        content=content,
        headers={"content-type": "application/json", **headers},
        timeout=30,
    )
