"""`build_slack(parts)`: turn Slack on for `conductor serve` when it is configured.

Resolves the tokens named by `[slack]`; when Slack is off, says why once and builds nothing.
Otherwise builds the poster, the Bolt app (whose constructor checks the token with auth.test),
the core the listeners call, and the reporter, and returns them as a `SlackWiring` that the
composition root (`bot.runtime`) hooks in:

- `reporter` joins the fan-out's reporters (incident and run news reaches Slack),
- HTTP mode: `http_route` (`POST /slack/events`) joins the HTTP extensions,
- `services` (the listener pool; Socket Mode's websocket when an app token is set) start and
  stop with the other background services.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.access.grants import Grants
from bot.access.guard import Guard
from bot.config.root import Settings
from bot.engine.engine import Engine
from bot.logs import get_logger
from bot.slack.core import StoreSlackCore
from bot.slack.listeners import slack_handlers
from bot.slack.replay import SeenRequests
from bot.slack.reporter import SlackReporter
from bot.slack.signing import ActionSigner
from bot.slack.usergroups import UserGroupCache
from bot.store.db import Store
from bot.workers import BackgroundService
from integrations.slack.bolt_app import BoltApp, SlackUnavailable, build_app, http_route
from integrations.slack.client import SlackPoster
from integrations.slack.settings import SlackOff, SlackSecrets, resolve_secrets
from integrations.slack.socket_mode import SocketModeService

log = get_logger(__name__)

LISTENER_THREADS = 4


@dataclass(frozen=True)
class SlackParts:
    """What Slack needs from the rest of the bot."""

    settings: Settings
    store: Store
    engine: Engine
    clock: Callable[[], datetime]
    grants: Grants
    guard: Guard


@dataclass
class SlackWiring:
    secrets: SlackSecrets
    app: BoltApp
    poster: SlackPoster
    core: StoreSlackCore
    reporter: SlackReporter
    signer: ActionSigner
    socket_mode: SocketModeService | None = None
    http_route: Callable[[Any, Any], None] | None = None  # HTTP mode: mounts POST /slack/events
    services: list[BackgroundService] = field(default_factory=list)  # started and stopped with the server


class ListenerPool:
    """The threads Bolt runs listeners on after the ack; drained when the server stops."""

    def __init__(self, threads: int = LISTENER_THREADS) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="slack-listener")

    def start(self) -> None:
        """Threads start on first use."""

    def stop(self) -> None:
        self.executor.shutdown(wait=True)


def _escalation_target(settings: Settings) -> str:
    service = settings.approvals.escalate_to or settings.pagerduty.default_service
    return f"PagerDuty ({service})" if service else "on-call"


def build_slack(parts: SlackParts, *, environ: Mapping[str, str] | None = None) -> SlackWiring | None:
    """Build what Slack needs, or log `slack: off (<reason>)` and return None."""
    settings = parts.settings
    secrets = resolve_secrets(settings.slack, os.environ if environ is None else environ)
    if isinstance(secrets, SlackOff):
        log.info(f"slack: off ({secrets.reason.removeprefix('Slack is off: ')})")
        return None
    # Listeners answer people at once (the SDK's own retry); the reporter runs in retried jobs.
    poster = SlackPoster.from_secrets(secrets)
    report_poster = SlackPoster.from_secrets(secrets, retries=False)
    signer = ActionSigner(secrets.button_secret)
    core = StoreSlackCore(
        store=parts.store,
        engine=parts.engine,
        settings=settings,
        clock=parts.clock,
        grants=parts.grants,
        guard=parts.guard,
        usergroups=UserGroupCache(poster.usergroup_members, clock=parts.clock),
    )
    reporter = SlackReporter(
        store=parts.store,
        port=report_poster,
        slack=settings.slack,
        views=lambda: core.views,
        signer=signer,
        clock=parts.clock,
        escalate_to=_escalation_target(settings),
    )
    pool = ListenerPool()
    handlers = slack_handlers(
        core=core,
        signer=signer,
        poster=poster,
        refresh=reporter.refresh_message,
        clock=parts.clock,
        seen=SeenRequests(parts.store, parts.clock),
    )
    try:
        app = build_app(secrets, handlers, executor=pool.executor)
    except SlackUnavailable as exc:
        # Slack being unreachable or the token revoked must not keep webhooks from being taken.
        pool.stop()
        log.error(f"slack: off (the bot token was refused or Slack is unreachable: {exc})")
        return None
    wiring = SlackWiring(secrets, app, poster, core, reporter, signer, services=[pool])
    if secrets.mode == "socket":
        assert secrets.app_token is not None  # mode says so
        wiring.socket_mode = SocketModeService(app, app_token=secrets.app_token, api_url=secrets.api_url)
        wiring.services.append(wiring.socket_mode)  # stopped before the pool drains
    else:
        wiring.http_route = http_route(app, signing_secret=secrets.signing_secret or "")
    where = "POST /slack/events" if secrets.mode == "http" else "Socket Mode"
    log.info(f"slack: listening ({where})", api_url=secrets.api_url)
    return wiring
