"""Fixtures for the runbook tests: real typed AWS clients against moto, and a settable clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.runbook_kit.services import ServiceRegistry
from bot.runbook_kit.spec import RunContext
from integrations.aws.clients import register_aws_services
from integrations.aws.session import AwsSession
from integrations.aws.settings import AwsGuards, AwsSettings
from tests.fakes.glue_failed_runs import GlueMotoServer
from tests.fakes.moto_server import MotoServer


@dataclass
class SettableClock:
    """A clock tests move by hand; starts at the real time so moto's timestamps line up."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def aws_settings() -> AwsSettings:
    # One attempt per call: failure paths must not wait for botocore's back-off.
    return AwsSettings(max_attempts=1, guards=AwsGuards(ecs_min=1, ecs_max=10, asg_min=1, asg_max=10))


MakeContext = Callable[..., RunContext]

# Building boto3 clients costs ~0.3 s (service models, endpoint rules), so tests share one
# AwsSession per (settings, endpoint). The endpoint still comes from AWS_ENDPOINT_URL, read by boto3.
_SESSIONS: dict[tuple[AwsSettings, str], AwsSession] = {}


def _session(settings: AwsSettings) -> AwsSession:
    key = (settings, os.environ.get("AWS_ENDPOINT_URL", ""))
    if key not in _SESSIONS:
        _SESSIONS[key] = AwsSession(settings)
    return _SESSIONS[key]


@pytest.fixture
def make_ctx(moto: MotoServer, aws_settings: AwsSettings, clock: SettableClock) -> MakeContext:
    """`make_ctx(run_id=, settings=, replace={Kind: instance})` -> a RunContext whose services are the
    real AWS clients (`replace` swaps some for test doubles of our own client classes).

    Clients are built after every fixture has set AWS_ENDPOINT_URL.
    """

    def make(
        *,
        run_id: str = "run-1",
        settings: AwsSettings | None = None,
        replace: Mapping[type[Any], Any] | None = None,
    ) -> RunContext:
        registry = ServiceRegistry()
        settings = settings or aws_settings
        register_aws_services(registry, settings, session=_session(settings))
        for kind, instance in (replace or {}).items():
            registry.put(kind, instance)
        return RunContext(run_id=run_id, services=registry, clock=clock)

    return make


# Any id will do: moto does not check that an AMI exists.
TEST_AMI = "ami-0123456789abcdef0"


@pytest.fixture
def ec2_moto(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """moto for EC2/Auto Scaling tests, without its ~1300 default AMIs.

    moto (in this process) loads them every time the EC2 backend starts after a reset, which costs
    ~2 s per test; the tests launch instances from `TEST_AMI` instead.
    """
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    return moto


@pytest.fixture(scope="session")
def glue_moto_session() -> Iterator[GlueMotoServer]:
    server = GlueMotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def glue_moto(
    moto: MotoServer, glue_moto_session: GlueMotoServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GlueMotoServer]:
    """moto (clean) with injectable Glue job runs; boto3 reaches it through AWS_ENDPOINT_URL."""
    glue_moto_session.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", glue_moto_session.url)
    yield glue_moto_session
    glue_moto_session.reset()
