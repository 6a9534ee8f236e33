"""What benchmarks/ha.py runs against: N `conductor serve` replicas on one PostgreSQL schema, a
moto server with the ECS services the runbook scales, and Slack, Jira and PagerDuty fakes that
answer in ~150 ms. The suite's small version (tests/e2e/test_ha_replicas.py) uses it too."""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import tomli_w
from sqlalchemy import select

from bot.store.db import Store
from bot.store.models import Job, Lease, RunbookRun
from tests.e2e.server import ServerProcess
from tests.fakes.jira import FakeJira
from tests.fakes.moto_recorder import RecordingMotoServer
from tests.fakes.moto_server import AWS_TEST_ENV
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.tls import make_tls
from tests.stores import postgres_schema

PD_ROUTING_KEY = "R0UTINGKEY0000000000000000000ops"
CHANNEL = "C0INCIDENTS"
CLUSTER = "prod"
INITIAL_DESIRED = 1
SWEEP = "tick"
_INTAKE_PID = re.compile(r"intake process started.*pid=(\d+)")


def fresh_schema() -> AbstractContextManager[str]:
    """An empty, migrated schema of its own on the local PostgreSQL; dropped afterwards."""
    return postgres_schema()


@dataclass
class Fakes:
    moto: RecordingMotoServer
    slack: FakeSlack
    jira: FakeJira
    pagerduty: FakePagerDuty
    ca_path: Path

    @classmethod
    @contextmanager
    def running(cls, tmp: Path, *, latency: float) -> Iterator[Fakes]:
        (tmp / "tls").mkdir(parents=True, exist_ok=True)
        tls = make_tls(tmp / "tls")
        moto = RecordingMotoServer().start()
        slack = FakeSlack().start()
        jira = FakeJira().start()
        pagerduty = FakePagerDuty(tls=tls.server_context, routing_keys={PD_ROUTING_KEY}).start()
        for fake in (slack, jira, pagerduty):
            fake.latency = latency
        try:
            yield cls(moto, slack, jira, pagerduty, tls.ca_path)
        finally:
            for stoppable in (slack, jira, pagerduty, moto):
                stoppable.stop()

    def aws_env(self) -> dict[str, str]:
        return {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": self.moto.url}

    def ecs(self) -> Any:
        env = self.aws_env()
        return boto3.client(
            "ecs",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )

    def create_services(self, names: list[str]) -> None:
        self.moto.reset()
        ecs = self.ecs()
        ecs.create_cluster(clusterName=CLUSTER)
        ecs.register_task_definition(
            family="app", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 256}]
        )
        for name in names:
            ecs.create_service(
                cluster=CLUSTER, serviceName=name, taskDefinition="app", desiredCount=INITIAL_DESIRED
            )

    def scale_outs(self) -> Counter[str]:
        """UpdateService calls that raised a service above its initial count, per service (a
        rollback sets it back and is not counted)."""
        return Counter(
            str(call.body.get("service"))
            for call in self.moto.calls("UpdateService")
            if int(call.body.get("desiredCount", 0)) > INITIAL_DESIRED
        )


def replica_config(data_dir: Path, fakes: Fakes, *, grace: float, sweep_seconds: float) -> dict[str, Any]:
    return {
        "data_dir": str(data_dir),
        "server": {"shutdown_grace_seconds": grace},
        "workers": {"threads": 2, "poll_interval_seconds": 0.05, "claim_timeout_seconds": 20},
        "runbooks": {"verify_timeout_minutes": 0.25, "verify_poll_seconds": 1.0},
        "aws": {"region": "us-east-1"},
        "slack": {"default_channel": CHANNEL},
        "jira": {"url": fakes.jira.url, "project": "OPS"},
        "pagerduty": {
            "events_base_url": fakes.pagerduty.url,
            "ca_bundle": str(fakes.ca_path),
            "routing_keys": {"ops": "PD_ROUTING_KEY_OPS"},
            "default_service": "ops",
            "retry_sleep_seconds": 0.1,
        },
        "rules": [
            {
                "name": "scale out the busy service",
                "match": [{"name": "resource_type", "value": "ecs:service"}],
                "on_insufficient_data": "act",  # generic alerts carry no metric to score
                "approval": "never",
                "runbook": "aws.ecs.scale_service",
                "target": "aws:ecs:service/{resource.id}",
                "params": {"step": 1, "max": 100},
            }
        ],
        "scheduler": {"lease_seconds": 3.0, "renew_every_seconds": 1.0},
        "sweeps": [
            {
                "name": SWEEP,
                "kind": "budget",
                "account_id": "123456789012",
                "schedule": {"interval_seconds": sweep_seconds},
            }
        ],
    }


@dataclass
class Replicas:
    """N `conductor serve` processes on one database, each with its own config and data dir."""

    tmp: Path
    url: str
    fakes: Fakes
    count: int
    grace: float = 5.0
    sweep_seconds: float = 2.0
    servers: list[ServerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        env = {
            **self.fakes.aws_env(),
            "CONDUCTOR_DATABASE_URL": self.url,
            "SLACK_BOT_TOKEN": self.fakes.slack.bot_token,
            "SLACK_SIGNING_SECRET": "ha-signing-secret",
            "SLACK_API_URL": self.fakes.slack.api_url,
            "JIRA_USER": "bot@example.com",
            "JIRA_API_TOKEN": "jira-token",
            "PD_ROUTING_KEY_OPS": PD_ROUTING_KEY,
            "CONDUCTOR_API_TOKEN": "ha-api-token",
        }
        for index in range(self.count):
            path = self.tmp / f"replica-{index}.toml"
            config = replica_config(
                self.tmp / f"var-{index}", self.fakes, grace=self.grace, sweep_seconds=self.sweep_seconds
            )
            path.write_text(tomli_w.dumps(config))
            self.servers.append(ServerProcess(path, env=env))

    def start_all(self) -> None:
        for server in self.servers:  # one after the other: start-up is CPU-bound (imports)
            server.start(timeout=120)

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()

    def alive(self) -> list[ServerProcess]:
        return [s for s in self.servers if s.proc is not None and s.proc.poll() is None]

    def by_pid(self, pid: int) -> ServerProcess | None:
        return next((s for s in self.alive() if s.proc is not None and s.proc.pid == pid), None)

    def lease_holder(self, store: Store) -> ServerProcess | None:
        with store.sessions() as session:
            lease = session.get(Lease, "scheduler")
        return self._holder(lease.holder if lease is not None else None)

    def mid_runbook(self, store: Store) -> ServerProcess | None:
        """A replica whose worker holds a run (acting) or one of its steps (a run.* job: execute,
        verify)."""
        with store.sessions() as session:
            holders = [
                *session.scalars(select(RunbookRun.claimed_by).where(RunbookRun.claimed_by.is_not(None))),
                *session.scalars(
                    select(Job.claimed_by).where(
                        Job.status == "pending", Job.kind.like("run.%"), Job.claimed_by.is_not(None)
                    )
                ),
            ]
        for holder in holders:
            found = self._holder(holder)
            if found is not None:
                return found
        return None

    def _holder(self, holder: str | None) -> ServerProcess | None:
        if not holder:
            return None
        pid = holder.partition(":")[2].split("/", 1)[0]
        return self.by_pid(int(pid)) if pid.isdigit() else None


def intake_pid(server: ServerProcess) -> int | None:
    """The replica's current intake process (it logs each start)."""
    found = _INTAKE_PID.findall(server.logs())
    return int(found[-1]) if found else None


def kill_intake(server: ServerProcess) -> bool:
    pid = intake_pid(server)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True
