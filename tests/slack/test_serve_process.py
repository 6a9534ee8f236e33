"""`conductor serve` as a real process with Slack on: a webhook becomes an incident message in
Slack, and a signed `/conductor` command is answered (a forged one is refused)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ServerProcess
from tests.fakes.slack import FakeSlack, sign_request, slash_command_body
from tests.slack.rig import INCIDENTS, SECRET, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[ServerProcess]:
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "var"}"\n'
        "[workers]\nthreads = 2\npoll_interval_seconds = 0.05\n"
        f'[slack]\ndefault_channel = "{INCIDENTS}"\n'
    )
    env = {
        "SLACK_BOT_TOKEN": fake_slack.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_APP_TOKEN": "",
    }
    process = ServerProcess(config, env=env).start()
    yield process
    process.stop()


def test_serve_with_slack(server: ServerProcess, fake_slack: FakeSlack) -> None:
    assert "slack: listening (POST /slack/events)" in server.logs()
    alert = {
        "name": "DiskFull",
        "status": "firing",
        "fingerprint": "fp-disk",
        "severity": "critical",
        "resource": {"provider": "aws", "type": "ec2:instance", "id": "i-123"},
    }
    assert httpx.post(f"{server.url}/webhooks/generic", json=alert, timeout=10).status_code == 202
    try:
        [parent] = eventually(lambda: fake_slack.messages(INCIDENTS), timeout=30)
    except AssertionError:
        raise AssertionError(f"no incident message; server log:\n{server.logs()[-4000:]}") from None
    assert "DiskFull" in parent.text and "CRITICAL" in parent.text

    body = slash_command_body("status", response_url=fake_slack.response_url("serve"))
    forged = httpx.post(
        f"{server.url}/slack/events", content=body, headers=sign_request("wrong", body), timeout=10
    )
    assert forged.status_code == 401
    response = httpx.post(
        f"{server.url}/slack/events", content=body, headers=sign_request(SECRET, body), timeout=10
    )
    assert response.status_code == 200
    [reply] = eventually(lambda: fake_slack.responses("serve"), timeout=10)
    assert "*Open incidents* 1" in str(reply["blocks"])
