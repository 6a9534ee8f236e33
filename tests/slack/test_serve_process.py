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


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc")


def test_a_huge_chunked_body_is_refused_without_being_buffered(server: ServerProcess) -> None:
    """No Content-Length to refuse early: the body streams in, and 413 comes once it passes the
    limit (1 MiB by default). The client offers 400 MiB; the server must stop reading long
    before (what the sender could push is socket buffers plus the limit), and its peak memory
    must not grow by anything near the body."""
    import socket

    assert server.proc is not None
    before = peak_rss_kib(server.proc.pid)
    chunk = b"x" * (64 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
        conn.setblocking(False)
        answer = b""
        while sent < 400 * 1024 * 1024 and not answer:
            try:
                sent += conn.send(framed)
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                answer = conn.recv(4096)
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
        conn.setblocking(True)
        if not answer:
            answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 64 * 1024 * 1024
    assert peak_rss_kib(server.proc.pid) - before < 64 * 1024


def test_a_signed_payload_that_is_not_json_is_a_400_and_an_unsigned_one_a_401(server: ServerProcess) -> None:
    body = b"payload=notjson"
    signed = httpx.post(
        f"{server.url}/slack/events", content=body, headers=sign_request(SECRET, body), timeout=10
    )
    assert signed.status_code == 400 and "malformed Slack payload" in signed.text
    unsigned = httpx.post(
        f"{server.url}/slack/events",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert unsigned.status_code == 401
