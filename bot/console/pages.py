"""What every console page shares: the templates, the security headers, the runtime and session
store of the app, the sign-in redirect, and rendering one page. Routes and the error handler
(`bot.console.errors`) both build on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from bot.console.auth import ConsoleSessions, Visitor
from bot.errors import ConductorError
from bot.runtime import Runtime

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
# No script runs on these pages; nothing is framed; forms post to this origin only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class LoginNeeded(ConductorError):
    """No valid console session: go to the sign-in page."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__("sign in first")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def sessions_of(request: Request) -> ConsoleSessions:
    sessions: ConsoleSessions = request.app.state.console_sessions
    return sessions


def page(
    request: Request, template: str, visitor: Visitor | None, status: int = 200, **context: Any
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        template,
        {"visitor": visitor, "notice": request.query_params.get("notice", ""), **context},
        status_code=status,
    )
    response.headers.update(SECURITY_HEADERS)
    return response
