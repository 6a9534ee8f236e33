"""The Bolt app: `/conductor`, the Approve / Deny buttons and a few events, as thin listeners.

Each listener acks first (Slack wants an answer within 3 s), then does the work: Bolt runs the
rest of the listener on its executor after the ack (`process_before_response=False`). The work
is one call into `bot.slack.dispatch`; the answer goes back to the user alone (an ephemeral
response for commands, chat.postEphemeral for refused clicks), and a recorded vote re-renders
the incident's parent message.

HTTP mode mounts the app on `POST /slack/events` of the one FastAPI server through Bolt's
Starlette adapter; Socket Mode (bot/slack/socket_mode.py) feeds the same app over a websocket.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App, BoltResponse, Respond, Say
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot.errors import IntegrationError
from bot.http.body import BodyTooLarge, read_limited
from bot.logs import get_logger
from bot.slack.blocks import SlackMessage, section
from bot.slack.dispatch import handle_approval_click, handle_command_text, handle_suggestion_click
from bot.slack.policy_messages import RUN_SUGGESTION_ACTION
from bot.slack.ports import SlackActor, SlackCore
from bot.slack.replay import SeenRequests, ignore_replays
from bot.slack.signing import ACTION_IDS, ActionSigner
from integrations.slack.client import SlackPort
from integrations.slack.settings import SlackSecrets

log = get_logger(__name__)

COMMAND = "/conductor"
EVENTS_PATH = "/slack/events"
SORRY = SlackMessage(
    text="Something went wrong; it has been logged.",
    blocks=[section(":warning: Something went wrong on our side; it has been logged. Try again shortly.")],
)
MENTION_REPLY = "Hi! I answer to `/conductor` — try `/conductor help`."


@dataclass(frozen=True)
class SlackListeners:
    """What the listeners need: the core, the button signer, the poster for ephemeral
    refusals, `refresh(channel, ts)` to re-render a parent message from the store, and the
    signed requests already handled (replays are ignored)."""

    core: SlackCore
    signer: ActionSigner
    poster: SlackPort
    refresh: Callable[[str, str], object]
    clock: Callable[[], datetime]
    seen: SeenRequests


class _QuietBolt(logging.Filter):
    """Bolt warns on every start that the client's token wins over $SLACK_BOT_TOKEN — by design
    here (config may name another variable), so that one line is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("As you gave `client` as well")


BOLT_LOGGER = logging.getLogger("bot.slack.bolt")
BOLT_LOGGER.addFilter(_QuietBolt())


def build_app(
    secrets: SlackSecrets, listeners: SlackListeners, *, executor: Executor | None = None, timeout: int = 10
) -> App:
    """The Bolt app. Its constructor calls auth.test, so a bad token fails here, at start-up."""
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
    register_listeners(app, listeners)
    return app


def _actor(user: dict[str, Any], *, channel: str | None, team: str | None) -> SlackActor:
    return SlackActor(
        user_id=str(user.get("id", "")),
        user_name=str(user.get("username") or user.get("name") or ""),
        channel_id=channel,
        team_id=team,
    )


def register_listeners(app: App, h: SlackListeners) -> None:
    """Attach the listeners; each is a plain function, as Bolt's decorators expect."""

    def refuse(actor: SlackActor, attempt: str, reason: str) -> None:
        h.core.audit_refusal(actor=actor, action=attempt, reason=reason)

    app.middleware(ignore_replays(h.seen, refuse))

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
            message = handle_command_text(
                str(command.get("text", "")), actor=actor, core=h.core, now=h.clock()
            )
        except Exception:  # the listener's one top-level handler: a bug, never a stack trace in Slack
            log.exception("slack: /conductor failed", user=actor.user_id)
            message = SORRY
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
        try:
            result = handle_approval_click(
                value=str(action.get("value", "")),
                action_id=str(action.get("action_id", "")),
                channel=channel,
                message_ts=message_ts,
                actor=actor,
                core=h.core,
                signer=h.signer,
                now=h.clock(),
            )
            if result.ephemeral is not None:
                h.poster.post_ephemeral(
                    channel, actor.user_id, result.ephemeral.text, blocks=result.ephemeral.blocks
                )
            if result.approval is not None:
                h.refresh(channel, message_ts)
        except IntegrationError as exc:  # Slack itself failed; the vote (if any) is stored
            log.warning("slack: could not answer a click", user=actor.user_id, error=str(exc))
        except Exception:  # the listener's one top-level handler
            log.exception("slack: approval click failed", user=actor.user_id)

    for action_id in ACTION_IDS.values():
        app.action(action_id)(approval_click)

    @app.action(RUN_SUGGESTION_ACTION)
    def suggestion_click(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        actor = _actor(body.get("user") or {}, channel=channel, team=(body.get("team") or {}).get("id"))
        try:
            reply = handle_suggestion_click(
                value=str(action.get("value", "")), actor=actor, core=h.core, now=h.clock()
            )
            h.poster.post_ephemeral(channel, actor.user_id, reply.text, blocks=reply.blocks)
        except IntegrationError as exc:
            log.warning("slack: could not answer a click", user=actor.user_id, error=str(exc))
        except Exception:  # the listener's one top-level handler
            log.exception("slack: run-it click failed", user=actor.user_id)

    @app.event("app_mention")
    def mentioned(event: dict[str, Any], say: Say) -> None:
        say(text=MENTION_REPLY, thread_ts=event.get("thread_ts") or event.get("ts"))

    @app.event(re.compile(".*"))
    def ignore(event: dict[str, Any]) -> None:
        """Other events (messages in channels the bot is in, ...) need no answer but a 200."""

    @app.error
    def on_error(error: Exception) -> None:
        log.error("slack: bolt error", error=f"{type(error).__name__}: {error}")


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
