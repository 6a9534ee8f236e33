"""SlackPoster through the real slack_sdk WebClient, over HTTP, against the fake Slack API."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from slack_sdk import WebClient

from bot.errors import IntegrationError
from bot.slack.blocks import render_incident
from bot.slack.thread import render_repeat
from bot.slack.views import RepeatView
from integrations.slack.client import SlackPort, SlackPoster, SlackRateLimited
from integrations.slack.settings import SlackSecrets, SlackSettings, resolve_secrets
from tests.fakes.slack import FakeSlack
from tests.slack.samples import T0, VIEW

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]


@pytest.fixture
def poster(fake_slack: FakeSlack) -> SlackPoster:
    env = {
        "SLACK_BOT_TOKEN": fake_slack.bot_token,
        "SLACK_SIGNING_SECRET": "signing",
        "SLACK_API_URL": f"{fake_slack.url}/api",  # no trailing slash on purpose
    }
    secrets = resolve_secrets(SlackSettings(), env)
    assert isinstance(secrets, SlackSecrets)
    poster: SlackPort = SlackPoster.from_secrets(secrets, timeout=5)  # the real one fits the Protocol
    assert isinstance(poster, SlackPoster)
    return poster


def test_parent_update_and_thread_land_where_they_should(poster: SlackPoster, fake_slack: FakeSlack) -> None:
    first = render_incident(VIEW)
    parent = poster.post_parent("C0INCIDENTS", first.blocks, first.text)
    assert parent.channel == "C0INCIDENTS"

    reply = poster.post_in_thread(parent.channel, parent.ts, *_repeat(2))
    poster.update(parent.channel, parent.ts, BLOCKS, "updated")
    later = poster.post_in_thread(parent.channel, parent.ts, *_repeat(3))

    assert [m.ts for m in fake_slack.messages("C0INCIDENTS")] == [parent.ts]
    assert [m.ts for m in fake_slack.thread("C0INCIDENTS", parent.ts)] == [reply.ts, later.ts]
    current = fake_slack.latest("C0INCIDENTS", parent.ts)
    assert current.text == "updated"
    assert current.blocks == BLOCKS
    history = fake_slack.history("C0INCIDENTS", parent.ts)
    assert [v["text"] for v in history] == [first.text, "updated"]
    assert history[0]["blocks"] == first.blocks  # blocks survive the wire unchanged
    assert "fired again (x3)" in fake_slack.thread("C0INCIDENTS", parent.ts)[1].block_texts()[0]

    post_calls = fake_slack.api_calls("chat.postMessage")
    assert [c.args.get("thread_ts") for c in post_calls] == [None, parent.ts, parent.ts]
    assert all(c.token == fake_slack.bot_token for c in fake_slack.api_calls())
    assert post_calls[0].args["unfurl_links"] is False


def _repeat(count: int) -> tuple[list[dict[str, object]], str]:
    message = render_repeat(RepeatView("INC-7", "HighCPU", count, last_at=T0))
    return message.blocks, message.text


def test_ephemeral(poster: SlackPoster, fake_slack: FakeSlack) -> None:
    poster.post_ephemeral("C0INCIDENTS", "U0MALLORY", "You may not approve this run.")
    [eph] = fake_slack.ephemerals(user="U0MALLORY")
    assert (eph.channel, eph.text) == ("C0INCIDENTS", "You may not approve this run.")
    assert fake_slack.messages("C0INCIDENTS") == []


def test_upload_png_into_thread_with_files_upload_v2(poster: SlackPoster, fake_slack: FakeSlack) -> None:
    parent = poster.post_parent("C0INCIDENTS", BLOCKS, "incident")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    file_id = poster.upload_png("C0INCIDENTS", parent.ts, png, "cpu.png", "CPU around the anomaly")
    [uploaded] = fake_slack.files(channel="C0INCIDENTS", thread_ts=parent.ts)
    assert uploaded.id == file_id
    assert uploaded.content == png
    assert (uploaded.filename, uploaded.title) == ("cpu.png", "CPU around the anomaly")
    methods = [c.method for c in fake_slack.api_calls()]
    assert methods[-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert fake_slack.calls("POST", "/upload/v1/")  # the bytes went to the upload URL


def test_usergroup_members(poster: SlackPoster, fake_slack: FakeSlack) -> None:
    fake_slack.usergroups["S0SRE"] = ["U0ALICE", "U0BOB"]
    assert poster.usergroup_members("S0SRE") == {"U0ALICE", "U0BOB"}
    with pytest.raises(IntegrationError, match="no_such_subteam") as info:
        poster.usergroup_members("S0NOPE")
    assert not info.value.retryable


def test_rate_limit_is_retryable_with_retry_after(poster: SlackPoster, fake_slack: FakeSlack) -> None:
    fake_slack.fail("chat.postMessage", "ratelimited", status=429, headers={"Retry-After": "7"})
    with pytest.raises(SlackRateLimited) as info:
        poster.post_parent("C0INCIDENTS", BLOCKS, "x")
    assert info.value.retryable
    assert info.value.retry_after == 7.0
    assert info.value.system == "slack"
    assert fake_slack.messages("C0INCIDENTS") == []


CALLS: dict[str, Callable[[SlackPoster], object]] = {
    "chat.update": lambda p: p.update("C0INCIDENTS", "1.2", BLOCKS, "x"),
    "chat.postEphemeral": lambda p: p.post_ephemeral("C0INCIDENTS", "U1", "x"),
}


@pytest.mark.parametrize(
    ("method", "error", "status", "retryable"),
    [
        pytest.param("chat.update", "internal_error", 500, True, id="5xx"),
        pytest.param("chat.update", "service_unavailable", 200, True, id="service-unavailable"),
        pytest.param("chat.update", "message_not_found", 200, False, id="not-found"),
        pytest.param("chat.postEphemeral", "user_not_in_channel", 200, False, id="not-in-channel"),
    ],
)
def test_errors_map_to_integration_error(
    poster: SlackPoster, fake_slack: FakeSlack, method: str, error: str, status: int, retryable: bool
) -> None:
    fake_slack.fail(method, error, status=status)
    with pytest.raises(IntegrationError, match=error) as info:
        CALLS[method](poster)
    assert info.value.retryable is retryable


def test_update_of_unknown_message_is_not_retryable(poster: SlackPoster) -> None:
    with pytest.raises(IntegrationError, match="message_not_found") as info:
        poster.update("C0INCIDENTS", "999.000", BLOCKS, "x")
    assert not info.value.retryable


def test_bad_token_is_not_retryable_and_not_echoed(fake_slack: FakeSlack) -> None:
    poster = SlackPoster(WebClient(token="xoxb-wrong-secret-value", base_url=fake_slack.api_url))
    with pytest.raises(IntegrationError) as info:
        poster.post_parent("C0INCIDENTS", BLOCKS, "x")
    assert "invalid_auth" in str(info.value)
    assert not info.value.retryable
    assert "xoxb-wrong" not in str(info.value)
    assert info.value.__cause__ is None  # the SDK error (with request details) is not chained


def test_unreachable_slack_is_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    poster = SlackPoster(WebClient(token="xoxb-x", base_url=f"http://127.0.0.1:{port}/api/", timeout=2))
    with pytest.raises(IntegrationError) as info:
        poster.post_parent("C0INCIDENTS", BLOCKS, "x")
    assert info.value.retryable
