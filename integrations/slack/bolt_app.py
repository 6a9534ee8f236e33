"""The Bolt app: `/conductor`, the Approve / Deny buttons and a few events, as thin listeners.

All of Slack's inbound wire handling is here: the Bolt app and its listeners, the signature check
and body limit of `POST /slack/events`, the replay guard middleware; Socket Mode
(`integrations.slack.socket_mode`) feeds the same app over a websocket. What a command or a click
*means* is the bot's business: the listeners call the `SlackHandlers` they are given
(`bot.slack.listeners` builds them) with a `SlackActor` and send back the `SlackMessage` they get.

Each listener acks first (Slack wants an answer within 3 s), then does the work: Bolt runs the
rest of the listener on its executor after the ack (`process_before_response=False`). The answer
goes back to the user alone (an ephemeral response for commands, chat.postEphemeral for refused
clicks), and a recorded vote re-renders the incident's parent message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltRequest, BoltResponse, Respond, Say
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot.errors import IntegrationError
from bot.logs import get_logger
from bot.request_body import BodyTooLarge, read_limited
from integrations.slack.client import SlackPort
from integrations.slack.settings import SlackSecrets
from integrations.slack.wire import SlackActor, SlackMessage

log = get_logger(__name__)

COMMAND = "/conductor"
EVENTS_PATH = "/slack/events"
SIGNATURE = "x-slack-signature"
TIMESTAMP = "x-slack-request-timestamp"

BoltApp = App


@dataclass(frozen=True, slots=True)
class ButtonClick:
    """An Approve / Deny press, as the bot's click handler takes it."""

    value: str
    action_id: str
    channel: str
    message_ts: str
    actor: SlackActor


@dataclass(frozen=True, slots=True)
class ClickAnswer:
    """`ephemeral`: shown to the clicker alone; `refresh`: re-render the clicked message."""

    ephemeral: SlackMessage | None = None
    refresh: bool = False


@dataclass(frozen=True)
class SlackHandlers:
    """What the listeners call. `first_time(signature, timestamp)` records a signed request and says
    whether it is new; `changes_state(body)` says whether a request would change anything (only
    those are guarded against replays); `refuse(actor, attempt, reason)` audits a refusal;
    `refresh(channel, ts)` re-renders a parent message from the store."""

    command: Callable[[str, SlackActor], SlackMessage]
    click: Callable[[ButtonClick], ClickAnswer]
    action_ids: Sequence[str]
    poster: SlackPort
    refresh: Callable[[str, str], object]
    first_time: Callable[[str, str], bool]
    changes_state: Callable[[Mapping[str, Any]], bool]
    refuse: Callable[[SlackActor, str, str], None]
    sorry: SlackMessage  # the answer when a handler fails (a bug): never a stack trace in Slack
    mention_reply: str


class SlackUnavailable(IntegrationError):
    """Slack refused the bot token or could not be reached while the app was built."""


class _QuietBolt(logging.Filter):
    """Bolt warns on every start that the client's token wins over $SLACK_BOT_TOKEN — by design
    here (config may name another variable), so that one line is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("As you gave `client` as well")


BOLT_LOGGER = logging.getLogger("bot.slack.bolt")
BOLT_LOGGER.addFilter(_QuietBolt())


def build_app(
    secrets: SlackSecrets, handlers: SlackHandlers, *, executor: Executor | None = None, timeout: int = 10
) -> App:
    """The Bolt app. Its constructor calls auth.test, so a bad token fails here, at start-up
    (`SlackUnavailable`, whose cause is the SDK's error)."""
    try:
        app = App(
            client=WebClient(token=secrets.bot_token, base_url=secrets.api_url, timeout=timeout),
            # Never Bolt's own environment lookup: config may name another variable. Socket Mode
            # requests are not signed (the websocket is authenticated instead).
            signing_secret=secrets.signing_secret or "",
            token_verification_enabled=True,
            process_before_response=False,
            raise_error_for_unhandled_request=False,
            listener_executor=executor,
            logger=BOLT_LOGGER,
        )
    except (BoltError, SlackClientError, OSError) as exc:
        raise SlackUnavailable(type(exc).__name__, system="slack") from exc
    register_listeners(app, handlers)
    return app


def _actor(user: dict[str, Any], *, channel: str | None, team: str | None) -> SlackActor:
    return SlackActor(
        user_id=str(user.get("id", "")),
        user_name=str(user.get("username") or user.get("name") or ""),
        channel_id=channel,
        team_id=team,
    )


def register_listeners(app: App, h: SlackHandlers) -> None:
    """Attach the listeners; each is a plain function, as Bolt's decorators expect."""
    app.middleware(ignore_replays(h))

    @app.command(COMMAND)
    def conductor(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        actor = SlackActor(
            user_id=str(command.get("user_id", "")),
            user_name=str(command.get("user_name", "")),
            channel_id=command.get("channel_id"),
            team_id=command.get("team_id"),
        )
        try:
            message = h.command(str(command.get("text", "")), actor)
        except Exception:  # the listener's one top-level handler: a bug, never a stack trace in Slack
            log.exception("slack: /conductor failed", user=actor.user_id)
            message = h.sorry
        try:
            respond(text=message.text, blocks=message.blocks, response_type="ephemeral")
        except (SlackClientError, OSError) as exc:
            log.warning("slack: could not answer /conductor", user=actor.user_id, error=str(exc))

    def approval_click(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        message_ts = str(container.get("message_ts") or (body.get("message") or {}).get("ts") or "")
        actor = _actor(body.get("user") or {}, channel=channel, team=(body.get("team") or {}).get("id"))
        click = ButtonClick(
            str(action.get("value", "")), str(action.get("action_id", "")), channel, message_ts, actor
        )
        try:
            answer = h.click(click)
            if answer.ephemeral is not None:
                h.poster.post_ephemeral(
                    channel, actor.user_id, answer.ephemeral.text, blocks=answer.ephemeral.blocks
                )
            if answer.refresh:
                h.refresh(channel, message_ts)
        except IntegrationError as exc:  # Slack itself failed; the vote (if any) is stored
            log.warning("slack: could not answer a click", user=actor.user_id, error=str(exc))
        except Exception:  # the listener's one top-level handler
            log.exception("slack: approval click failed", user=actor.user_id)

    for action_id in h.action_ids:
        app.action(action_id)(approval_click)

    @app.event("app_mention")
    def mentioned(event: dict[str, Any], say: Say) -> None:
        say(text=h.mention_reply, thread_ts=event.get("thread_ts") or event.get("ts"))

    @app.event(re.compile(".*"))
    def ignore(event: dict[str, Any]) -> None:
        """Other events (messages in channels the bot is in, ...) need no answer but a 200."""

    @app.error
    def on_error(error: Exception) -> None:
        log.error("slack: bolt error", error=f"{type(error).__name__}: {error}")


def _header(headers: Mapping[str, Sequence[str]], name: str) -> str:
    values = headers.get(name) or []
    return str(values[0]) if values else ""


def _request_actor(body: Mapping[str, Any]) -> SlackActor:
    if "command" in body:
        return SlackActor(user_id=str(body.get("user_id", "")), channel_id=body.get("channel_id"))
    user = body.get("user") or {}
    channel = body.get("channel") or {}
    return SlackActor(user_id=str(user.get("id", "")), channel_id=channel.get("id"))


def ignore_replays(h: SlackHandlers) -> Callable[..., BoltResponse | None]:
    """A Bolt global middleware. Bolt runs it after the signature and freshness checks: a signed
    request that changes state is handled once (see `bot.slack.replay`); a replay is answered 200
    with nothing done, and audited."""

    def ignore_replayed_requests(
        req: BoltRequest, resp: BoltResponse, next_: Callable[[], None]
    ) -> BoltResponse | None:
        signature = _header(req.headers, SIGNATURE)
        if req.mode != "http" or not signature or not h.changes_state(req.body):
            next_()
            return resp
        if h.first_time(signature, _header(req.headers, TIMESTAMP)):
            next_()
            return resp
        actor = _request_actor(req.body)
        attempt = f"slash command {req.body.get('text', '')!r}" if "command" in req.body else "button press"
        log.warning("slack: replayed request ignored", user=actor.user_id, attempt=attempt)
        h.refuse(actor, attempt, "replayed: this signed request was already handled")
        return BoltResponse(status=200, body="")

    return ignore_replayed_requests


def http_route(app: App, *, signing_secret: str, path: str = EVENTS_PATH) -> Callable[[Any, Any], None]:
    """A `runtime.http_extensions` entry mounting the app on `POST {path}`.

    The body is read as it streams in, up to `[ingest] max_body_bytes` (413 past it, never
    buffered whole). The signature and the 5-minute freshness are checked before the body is
    parsed (401, and a body nobody signed is never read further); a signed body Bolt cannot
    parse (`payload=notjson`) is a 400. The dispatch runs on a worker thread so a slow listener
    never blocks the event loop.
    """
    verifier = SignatureVerifier(signing_secret)

    def extend(api: Any, runtime: Any) -> None:
        limit = int(runtime.settings.ingest.max_body_bytes)

        async def slack_events(request: Request) -> Response:
            try:
                body = await read_limited(request, limit)
            except BodyTooLarge:
                return Response(status_code=413, content=f"body larger than {limit} bytes")
            if not verifier.is_valid_request(body, dict(request.headers)):
                return Response(status_code=401, content="invalid request signature or timestamp")
            try:
                bolt_request = to_bolt_request(request, body)
            except ValueError as exc:  # a form field `payload` that is not JSON
                return Response(status_code=400, content=f"malformed Slack payload: {exc}")
            response: BoltResponse = await run_in_threadpool(app.dispatch, bolt_request)
            return to_starlette_response(response)

        api.add_api_route(path, slack_events, methods=["POST"], include_in_schema=False)

    return extend
