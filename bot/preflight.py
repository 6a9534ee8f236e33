"""What `check-config` and `serve` both do before anything starts.

`check_startable` builds, without starting or connecting, every part `serve` builds from the
configuration: the store's engine, the webhook authenticators, every source's screen and parser,
the runbooks and the rules that name them, the integration clients' registry, the Slack secrets,
and the settings as the intake process receives them. A configuration `check-config` accepts
therefore gets past the point where `serve` would fail on it (a broken import in an
authenticator once passed `check-config` and stopped `serve`).

`startup_warnings` names what is legal but unsafe to expose (open webhook sources or no API token
on a non-loopback address, a signing secret that is not set).
"""

from __future__ import annotations

import ipaddress
import pickle
from collections.abc import Mapping

from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.config.root import Settings
from bot.config.validate import config_warnings, validate_references
from bot.errors import ConductorError, ConfigError

# Modes whose check needs the secret named by `secret_env`.
SECRET_MODES = frozenset({"bearer", "basic", "pagerduty", "grafana"})


def check_startable(settings: Settings, environ: Mapping[str, str]) -> None:
    """Raise ConfigError naming each part `serve` could not build from these settings."""
    from bot.engine.services import build_services
    from bot.ingest.auth import WebhookAuthenticator
    from bot.ingest.sources import SOURCES
    from bot.store.db import make_engine
    from integrations.registry import get_parser, get_screen
    from integrations.slack.settings import resolve_secrets

    problems: list[str] = []
    try:
        validate_references(settings)
    except ConfigError as exc:
        problems += exc.problems
    try:
        make_engine(settings.database_url()).dispose()  # no connection is made
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        problems.append(f"database.url: {exc}")
    try:
        WebhookAuthenticator.from_settings(settings.ingest, data_dir=settings.data_dir, environ=environ)
        for source in SOURCES:
            get_screen(source)
            get_parser(source)
        build_services(settings)
        resolve_secrets(settings.slack, environ)
        pickle.dumps(settings)  # what the intake process is started with
        # Modules serve imports only once it runs (the intake process, the HTTP app, Slack).
        import bot.http.app
        import bot.ingest.intake_child
        import bot.slack.wiring  # noqa: F401
    except (ConductorError, ImportError, pickle.PicklingError) as exc:
        problems.append(f"(start-up): {type(exc).__name__}: {exc}")
    if problems:
        raise ConfigError(problems)


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def startup_warnings(settings: Settings, *, host: str, environ: Mapping[str, str]) -> list[str]:
    """What `check-config` and `serve` warn about: the configuration's own warnings (approvals
    nobody may give, API tokens whose variable is unset), secrets that are not set, and each setting
    that is allowed but unsafe where the server can be reached from elsewhere."""
    from bot.ingest.sources import SOURCES

    warnings: list[str] = config_warnings(settings, environ)
    ingest = settings.ingest
    for source, auth in sorted(ingest.auth.items()):
        if auth.mode in SECRET_MODES and not environ.get(auth.secret_env):
            warnings.append(
                f"ingest.auth.{source}: {auth.secret_env} is not set; every {source} webhook will get 401"
            )
    if is_loopback(host):
        return warnings
    open_sources = [s for s in SOURCES if s not in ingest.auth and ingest.allow_unauthenticated]
    open_sources += [s for s, auth in sorted(ingest.auth.items()) if auth.mode == "none"]
    if open_sources:
        warnings.append(
            f"serving on {host}, which is not a loopback address, and webhook sources "
            f"{', '.join(open_sources)} accept unauthenticated requests (set "
            "ingest.allow_unauthenticated = false and an [ingest.auth.<source>] for each sender)"
        )
    token_envs = [settings.server.api_token_env] + [t.secret_env for t in settings.permissions.api_tokens]
    if not any(environ.get(name) for name in token_envs):
        warnings.append(
            f"serving on {host}, which is not a loopback address, with no API token (none of "
            f"{', '.join(token_envs)} is set): the /api routes refuse everyone, and nothing proves who calls"
        )
    return warnings
