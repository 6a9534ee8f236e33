"""`attach_slack(runtime)`: turn Slack on for `conductor serve` when it is configured.

Resolves the tokens named by `[slack]`; when Slack is off, says why once and registers nothing.
Otherwise builds the poster, the Bolt app (whose constructor checks the token with auth.test),
the core the listeners call, and the reporter; then hooks them into the runtime:

- the reporter joins `runtime.fanout.reporters` (incident and run news reaches Slack),
- HTTP mode: `POST /slack/events` joins `runtime.http_extensions`,
- Socket Mode (an app token is set): a background service joins `runtime.services`.

What was built is kept in `runtime.extras["slack"]` (a `SlackWiring`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackClientError

from bot.logs import get_logger
from bot.slack.app import SlackListeners, build_app, http_route
from bot.slack.core import StoreSlackCore
from bot.slack.replay import SeenRequests
from bot.slack.reporter import SlackReporter
from bot.slack.signing import ActionSigner
from bot.slack.socket_mode import SocketModeService
from bot.slack.usergroups import UserGroupCache
from integrations.slack.client import SlackPoster
from integrations.slack.settings import SlackOff, SlackSecrets, resolve_secrets

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = get_logger(__name__)

RUNTIME_KEY = "slack"
LISTENER_THREADS = 4


@dataclass
class SlackWiring:
    secrets: SlackSecrets
    app: App
    poster: SlackPoster
    core: StoreSlackCore
    reporter: SlackReporter
    signer: ActionSigner
    socket_mode: SocketModeService | None = None


class ListenerPool:
    """The threads Bolt runs listeners on after the ack; drained when the server stops."""

    def __init__(self, threads: int = LISTENER_THREADS) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="slack-listener")

    def start(self) -> None:
        """Threads start on first use."""

    def stop(self) -> None:
        self.executor.shutdown(wait=True)


def _escalation_target(runtime: Runtime) -> str:
    settings = runtime.settings
    service = settings.approvals.escalate_to or settings.pagerduty.default_service
    return f"PagerDuty ({service})" if service else "on-call"


def attach_slack(runtime: Runtime, *, environ: Mapping[str, str] | None = None) -> None:
    """Wire Slack into the runtime, or log `slack: off (<reason>)` and do nothing."""
    settings = runtime.settings
    secrets = resolve_secrets(settings.slack, os.environ if environ is None else environ)
    if isinstance(secrets, SlackOff):
        log.info(f"slack: off ({secrets.reason.removeprefix('Slack is off: ')})")
        return
    # Listeners answer people at once (the SDK's own retry); the reporter runs in retried jobs.
    poster = SlackPoster.from_secrets(secrets)
    report_poster = SlackPoster.from_secrets(secrets, retries=False)
    signer = ActionSigner(secrets.button_secret)
    core = StoreSlackCore.from_runtime(
        runtime, usergroups=UserGroupCache(poster.usergroup_members, clock=runtime.clock)
    )
    reporter = SlackReporter(
        store=runtime.store,
        port=report_poster,
        slack=settings.slack,
        views=lambda: core.views,
        signer=signer,
        clock=runtime.clock,
        escalate_to=_escalation_target(runtime),
    )
    pool = ListenerPool()
    listeners = SlackListeners(
        core=core,
        signer=signer,
        poster=poster,
        refresh=reporter.refresh_message,
        clock=runtime.clock,
        seen=SeenRequests(runtime.store, runtime.clock),
    )
    try:
        app = build_app(secrets, listeners, executor=pool.executor)
    except (BoltError, SlackClientError, OSError) as exc:
        # Slack being unreachable or the token revoked must not keep webhooks from being taken.
        pool.stop()
        log.error(f"slack: off (the bot token was refused or Slack is unreachable: {type(exc).__name__})")
        return
    wiring = SlackWiring(secrets, app, poster, core, reporter, signer)
    runtime.fanout.reporters.append(reporter)
    runtime.services.append(pool)
    if secrets.mode == "socket":
        assert secrets.app_token is not None  # mode says so
        wiring.socket_mode = SocketModeService(app, app_token=secrets.app_token, api_url=secrets.api_url)
        runtime.services.append(wiring.socket_mode)  # stopped before the pool drains
    else:
        runtime.http_extensions.append(http_route(app, signing_secret=secrets.signing_secret or ""))
    runtime.extras[RUNTIME_KEY] = wiring
    where = "POST /slack/events" if secrets.mode == "http" else "Socket Mode"
    log.info(f"slack: listening ({where})", api_url=secrets.api_url)
