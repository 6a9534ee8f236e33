"""A fake Slack Web API on 127.0.0.1:0 that records every call and keeps the messages.

Point the real client at it: `WebClient(token=..., base_url=fake.api_url)` (note the trailing
slash) or a Bolt `App(client=...)`. It answers the minimal real JSON of the methods the bot uses:
auth.test, chat.postMessage / update / postEphemeral / delete, the three steps of
files_upload_v2 (files.getUploadURLExternal, the upload POST, files.completeUploadExternal),
conversations.info, conversations.history / conversations.replies (message metadata only with
`include_all_metadata`, as Slack does), usergroups.users.list and apps.connections.open
(answering the URL of a `FakeSocketModeServer`). `response_url(key)` gives URLs that record what
is POSTed to them.

Reading back: `fake.messages(channel)`, `fake.thread(channel, ts)`, `fake.latest(channel, ts)`,
`fake.history(channel, ts)`, `fake.ephemerals(...)`, `fake.files(...)`, `fake.api_calls(method)`.

Request helpers for driving a Bolt app over HTTP: `sign_request`, `slash_command_body`,
`block_actions_body`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from slack_sdk.signature import SignatureVerifier

from tests.fakes.http_server import FakeService, RecordedRequest, Reply

BOT_USER_ID = "U0CONDUCTOR"
BOT_ID = "B0CONDUCTOR"
TEAM_ID = "T0FAKE"
_JSON_ARGS = ("blocks", "attachments", "files", "metadata")


@dataclass
class ApiCall:
    """One Web API call: the method name and every argument (query, form and JSON merged)."""

    method: str
    args: dict[str, Any]
    token: str | None


@dataclass
class FakeMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)  # every text/blocks it has had
    metadata: dict[str, Any] | None = None  # as posted ({"event_type", "event_payload"})

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def block_texts(self) -> list[str]:
        """Every mrkdwn/plain text in the blocks, in order (for assertions)."""
        return list(_texts(self.blocks))


@dataclass
class FakeEphemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]


@dataclass
class FakeFile:
    id: str
    filename: str
    length: int
    title: str | None = None
    content: bytes | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None


@dataclass
class _Failure:
    error: str
    status: int
    headers: dict[str, str]


def _texts(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def _merge_args(req: RecordedRequest) -> dict[str, Any]:
    args: dict[str, Any] = {k: v[0] for k, v in req.query.items()}
    ctype = req.headers.get("content-type", "")
    if req.body and "json" in ctype:
        body = json.loads(req.body)
        if isinstance(body, dict):
            args.update(body)
    elif req.body and "x-www-form-urlencoded" in ctype:
        args.update({k: v[0] for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items()})
    for key in _JSON_ARGS:
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args


def _token(req: RecordedRequest, args: Mapping[str, Any]) -> str | None:
    auth = req.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    token = args.get("token")
    return str(token) if token else None


HOLD_TIMEOUT_SECONDS = 30.0


@dataclass
class Hold:
    """Calls of one method wait here: `arrived` is set when the first comes in."""

    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


class FakeSlack(FakeService):
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-bot-token",  # noqa: S107 - a fake's own test token
        app_token: str = "xapp-1-test-app-token",  # noqa: S107
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket_url: str | None = None  # answered by apps.connections.open
        self.usergroups: dict[str, list[str]] = {}
        self._state = threading.Lock()
        self._calls: list[ApiCall] = []
        self._messages: dict[tuple[str, str], FakeMessage] = {}
        self._order: list[tuple[str, str]] = []
        self._ephemerals: list[FakeEphemeral] = []
        self._files: dict[str, FakeFile] = {}
        self._responses: dict[str, list[Any]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._seq = itertools.count(1)
        self._ts_lock = threading.Lock()  # _next_ts is called with and without _state held
        self._last_ts = 0
        self._holds: dict[str, Hold] = {}
        self.route("POST", r"/api/(?P<method>[A-Za-z0-9_.]+)")(self._api)
        self.route("GET", r"/api/(?P<method>[A-Za-z0-9_.]+)")(self._api)
        self.route("POST", r"/upload/v1/(?P<file_id>F[A-Z0-9]+)")(self._upload)
        self.route("POST", r"/response/(?P<key>[A-Za-z0-9_-]+)")(self._response)

    # ----- configuration -------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """The `base_url` for WebClient, with the trailing slash it needs."""
        return f"{self.url}/api/"

    def response_url(self, key: str = "default") -> str:
        return f"{self.url}/response/{key}"

    def fail(
        self, method: str, error: str, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        """Make the next call of `method` fail with `error` (and HTTP `status`)."""
        with self._state:
            self._failures.setdefault(method, []).append(_Failure(error, status, headers or {}))

    def hold(self, method: str) -> Hold:
        """Hold the next calls of `method` until `release()` (a slow Slack, on cue)."""
        gate = Hold()
        with self._state:
            self._holds[method] = gate
        return gate

    def reset(self) -> None:
        super().reset()
        with self._state:
            for gate in self._holds.values():
                gate.release()
            self._holds.clear()
            self._calls.clear()
            self._messages.clear()
            self._order.clear()
            self._ephemerals.clear()
            self._files.clear()
            self._responses.clear()
            self._failures.clear()
            self.usergroups.clear()
            self.socket_url = None

    # ----- reading back ----------------------------------------------------------------------
    def api_calls(self, method: str | None = None) -> list[ApiCall]:
        with self._state:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str) -> list[FakeMessage]:
        """Top-level messages of a channel (current versions), oldest first."""
        with self._state:
            found = [self._messages[k] for k in self._order if k[0] == channel]
        return [m for m in found if not m.is_reply]

    def thread(self, channel: str, ts: str) -> list[FakeMessage]:
        """Replies in the thread under `ts` (current versions), oldest first."""
        with self._state:
            found = [self._messages[k] for k in self._order if k[0] == channel]
        return [m for m in found if m.is_reply and m.thread_ts == ts]

    def latest(self, channel: str, ts: str) -> FakeMessage:
        """The message as it is now, after every chat.update."""
        with self._state:
            return self._messages[(channel, ts)]

    def history(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Every version of the message: [{'text', 'blocks'}, ...], first post first."""
        return list(self.latest(channel, ts).versions)

    def ephemerals(self, *, channel: str | None = None, user: str | None = None) -> list[FakeEphemeral]:
        with self._state:
            return [
                e
                for e in self._ephemerals
                if (channel is None or e.channel == channel) and (user is None or e.user == user)
            ]

    def files(self, *, channel: str | None = None, thread_ts: str | None = None) -> list[FakeFile]:
        """Completed uploads (shared into a channel), optionally only those in one thread."""
        with self._state:
            return [
                f
                for f in self._files.values()
                if f.channel is not None
                and (channel is None or f.channel == channel)
                and (thread_ts is None or f.thread_ts == thread_ts)
            ]

    def responses(self, key: str = "default") -> list[Any]:
        """Bodies POSTed to `response_url(key)` (JSON decoded when possible)."""
        with self._state:
            return list(self._responses.get(key, []))

    # ----- handlers --------------------------------------------------------------------------
    def _next_ts(self) -> str:
        """Like Slack's: the server's Unix time in microseconds, unique and increasing."""
        with self._ts_lock:
            self._last_ts = max(self._last_ts + 1, time.time_ns() // 1000)
            micros = self._last_ts
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _api(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        method = match["method"]
        args = _merge_args(req)
        token = _token(req, args)
        with self._state:
            self._calls.append(ApiCall(method=method, args=args, token=token))
            pending = self._failures.get(method)
            failure = pending.pop(0) if pending else None
            gate = self._holds.get(method)
        if gate is not None:
            gate.arrived.set()
            gate.released.wait(HOLD_TIMEOUT_SECONDS)
        if failure is not None:
            return Reply(failure.status, {"ok": False, "error": failure.error}, failure.headers)
        if token is None:
            return Reply(200, {"ok": False, "error": "not_authed"})
        if method == "apps.connections.open":
            if token != self.app_token:
                return Reply(
                    200,
                    {
                        "ok": False,
                        "error": "not_allowed_token_type" if token == self.bot_token else "invalid_auth",
                    },
                )
            if self.socket_url is None:
                return Reply(200, {"ok": False, "error": "fake_has_no_socket_server"})
            return Reply(200, {"ok": True, "url": self.socket_url})
        if token != self.bot_token:
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return Reply(200, {"ok": False, "error": "unknown_method"})
        body: dict[str, Any] = handler(args)
        return Reply(200, body)

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "conductor",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        text, blocks = str(args.get("text") or ""), list(args.get("blocks") or [])
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        thread_ts = args.get("thread_ts") or None
        with self._state:
            if thread_ts is not None and (channel, thread_ts) not in self._messages:
                return {"ok": False, "error": "thread_not_found"}
            ts = self._next_ts()
            metadata = args.get("metadata") if isinstance(args.get("metadata"), dict) else None
            message = FakeMessage(channel, ts, text, blocks, thread_ts=thread_ts, metadata=metadata)
            message.versions.append({"text": text, "blocks": blocks})
            self._messages[(channel, ts)] = message
            self._order.append((channel, ts))
        return {"ok": True, "channel": channel, "ts": ts, "message": self._wire(message, with_metadata=True)}

    @staticmethod
    def _wire(message: FakeMessage, *, with_metadata: bool) -> dict[str, Any]:
        """A message as the Web API shows it."""
        shown: dict[str, Any] = {
            "type": "message",
            "text": message.text,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": message.ts,
        }
        if message.thread_ts:
            shown["thread_ts"] = message.thread_ts
        if with_metadata and message.metadata is not None:
            shown["metadata"] = message.metadata
        return shown

    def _page(self, found: list[FakeMessage], args: dict[str, Any]) -> dict[str, Any]:
        """One page of `found` (Slack's `limit` / `cursor` paging), metadata only when asked for."""
        oldest = float(args.get("oldest") or 0)
        found = [
            m
            for m in found
            if float(m.ts) > oldest
            or (args.get("inclusive") in ("1", "true", True) and float(m.ts) == oldest)
        ]
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        with_metadata = args.get("include_all_metadata") in ("1", "true", "True", True)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": [self._wire(m, with_metadata=with_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages of a channel, newest first."""
        channel = str(args.get("channel") or "")
        with self._state:
            found = [self._messages[k] for k in reversed(self._order) if k[0] == channel]
        if not channel or channel.startswith("#"):  # Slack wants the channel's id here
            return {"ok": False, "error": "channel_not_found"}
        return self._page([m for m in found if not m.is_reply], args)

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """The parent under `ts` and its replies, oldest first."""
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        with self._state:
            parent = self._messages.get((channel, ts))
            found = [self._messages[k] for k in self._order if k[0] == channel]
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        thread = [parent] + [m for m in found if m.is_reply and m.thread_ts == ts]
        return self._page(thread, args)

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        with self._state:
            message = self._messages.get((channel, ts))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            if "text" in args:
                message.text = str(args["text"] or "")
            if "blocks" in args:
                message.blocks = list(args["blocks"] or [])
            message.versions.append({"text": message.text, "blocks": message.blocks})
            return {"ok": True, "channel": channel, "ts": ts, "text": message.text}

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (str(args.get("channel") or ""), str(args.get("ts") or ""))
        with self._state:
            if self._messages.pop(key, None) is None:
                return {"ok": False, "error": "message_not_found"}
            self._order.remove(key)
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, user = str(args.get("channel") or ""), str(args.get("user") or "")
        if not channel or not user:
            return {"ok": False, "error": "channel_not_found" if not channel else "user_not_in_channel"}
        with self._state:
            self._ephemerals.append(
                FakeEphemeral(channel, user, str(args.get("text") or ""), list(args.get("blocks") or []))
            )
            ts = self._next_ts()
        return {"ok": True, "message_ts": ts}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = str(args.get("filename") or "")
        try:
            length = int(args.get("length") or 0)
        except ValueError:
            length = 0
        if not filename or length <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._seq):09d}"
        with self._state:
            self._files[file_id] = FakeFile(id=file_id, filename=filename, length=length)
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _upload(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        with self._state:
            file = self._files.get(match["file_id"])
            if file is None:
                return Reply(404, "no such upload")
            file.content = req.body
        return Reply(200, f"OK - {len(req.body)}")

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = args.get("files") or []
        channel = args.get("channel_id") or args.get("channels") or None
        done: list[dict[str, Any]] = []
        with self._state:
            for entry in entries:
                file = self._files.get(str(entry.get("id")))
                if file is None or file.content is None or len(file.content) != file.length:
                    return {
                        "ok": False,
                        "error": "file_not_found" if file is None else "file_upload_incomplete",
                    }
                file.title = entry.get("title") or file.filename
                file.channel = str(channel) if channel else None
                file.thread_ts = args.get("thread_ts") or None
                file.initial_comment = args.get("initial_comment") or None
                done.append({"id": file.id, "name": file.filename, "title": file.title, "size": file.length})
        return {"ok": True, "files": done}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {"id": channel, "name": channel.lower(), "is_channel": True, "is_member": True},
        }

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup") or "")
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _response(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        try:
            body: Any = json.loads(req.body)
        except ValueError:
            body = req.body.decode(errors="replace")
        with self._state:
            self._responses.setdefault(match["key"], []).append(body)
        return Reply(200, "ok")


# ----- building signed requests for a Bolt app -------------------------------------------------


def sign_request(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """Headers of a request signed the way Slack signs it (v0, HMAC-SHA256)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_command_body(
    text: str,
    *,
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    channel_id: str = "C0INCIDENTS",
    response_url: str = "https://hooks.slack.com/commands/T0FAKE/1/x",
    command: str = "/conductor",
) -> bytes:
    """The form body Slack POSTs for a slash command."""
    fields = {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "fake-workspace",
        "channel_id": channel_id,
        "channel_name": "incidents",
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": "A0CONDUCTOR",
        "response_url": response_url,
        "trigger_id": "1337.42.abcdef",
    }
    return urlencode(fields).encode()


def block_actions_payload(
    *,
    action_id: str,
    value: str,
    user_id: str = "U0ALICE",
    channel_id: str = "C0INCIDENTS",
    message_ts: str = "1700000001.000001",
    block_id: str = "conductor_approval:apr-1",
    response_url: str = "https://hooks.slack.com/actions/T0FAKE/1/x",
) -> dict[str, Any]:
    """A `block_actions` payload for a button click on a channel message."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "fake-workspace"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0CONDUCTOR",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": "1337.42.abcdef",
        "channel": {"id": channel_id, "name": "incidents"},
        "message": {"type": "message", "ts": message_ts, "bot_id": BOT_ID, "text": ""},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": action_id},
                "value": value,
                "type": "button",
                "action_ts": "1700000002.000002",
            }
        ],
    }


def block_actions_body(**kwargs: Any) -> bytes:
    """The form body Slack POSTs for a button click: one field, `payload=<JSON>`."""
    return urlencode({"payload": json.dumps(block_actions_payload(**kwargs))}).encode()
