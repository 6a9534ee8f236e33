"""`conductor serve`: the HTTP app, the workers and the scheduler, plus the intake process it
starts for webhooks (see `bot.ingest.intake_process`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from bot.config.loader import LoadedConfig
from bot.http.app import create_app
from bot.logs import configure_logging, get_logger
from bot.preflight import startup_warnings
from bot.runtime import build_runtime

log = get_logger(__name__)


def uvicorn_options(*, shutdown_grace_seconds: float) -> dict[str, Any]:
    """Server settings shared with benchmarks/bare_app.py, so the two are compared like for like.

    uvloop and httptools are named outright (they come with uvicorn[standard]); access logs
    are off (the request middleware counts and times every request instead).
    """
    return {
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "backlog": 2048,
        "timeout_graceful_shutdown": int(shutdown_grace_seconds) or None,
    }


def serve(
    loaded: LoadedConfig, *, host: str | None = None, port: int | None = None, json_logs: bool | None = None
) -> None:
    settings = loaded.settings
    use_json = settings.logging.format == "json" if json_logs is None else json_logs
    configure_logging(level=settings.logging.level, json=use_json)
    log.info(
        "configuration loaded",
        path=str(loaded.path) if loaded.path else "embedded defaults",
        data_dir=str(settings.data_dir),
    )
    bind_host = host or settings.server.host
    bind_port = settings.server.port if port is None else port
    for warning in startup_warnings(settings, host=bind_host, environ=os.environ):
        log.warning(warning)
    runtime = build_runtime(settings)
    log.info("store ready", database=runtime.store.engine.dialect.name)
    app = create_app(runtime)
    log.info("listening", host=bind_host, port=bind_port)
    shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::") else bind_host  # noqa: S104 - a display choice
    where = f"http://{shown}:{bind_port}"
    if settings.console.enabled:
        log.info(f"web console: {where}/ui/ (sign in with a named API token)", url=f"{where}/ui/")
    log.info(f"API docs: {where}/api/docs; webhooks: POST {where}/webhooks/<source>")
    # uvicorn turns SIGTERM/SIGINT into a graceful shutdown: stop accepting, finish in-flight
    # requests, then run the lifespan shutdown that stops the intake (after it has answered what
    # it read) and the workers.
    config = uvicorn.Config(
        app,
        host=bind_host,
        port=bind_port,
        **uvicorn_options(shutdown_grace_seconds=settings.server.shutdown_grace_seconds),
    )
    DrainingServer(config, on_exit=runtime.begin_drain).run()
    runtime.store.dispose()


class DrainingServer(uvicorn.Server):
    """uvicorn's server, telling the runtime the moment SIGTERM (or SIGINT) arrives: /readyz turns
    503 at once and the shutdown's grace is counted from then."""

    def __init__(self, config: uvicorn.Config, *, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)
