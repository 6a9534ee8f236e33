"""Fixtures for the Slack tests: the fake Web API (one per session, reset per test) and a
Socket Mode server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.slack import FakeSlack
from tests.fakes.slack_socket import FakeSocketModeServer


@pytest.fixture(scope="session")
def fake_slack_session() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_slack(fake_slack_session: FakeSlack) -> FakeSlack:
    fake_slack_session.reset()
    return fake_slack_session


@pytest.fixture
def socket_server(fake_slack: FakeSlack) -> Iterator[FakeSocketModeServer]:
    server = FakeSocketModeServer().start()
    fake_slack.socket_url = server.url
    yield server
    server.stop()
