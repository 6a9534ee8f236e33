"""How a console route's named errors become pages: sign in again, 403, 404, 409 or 400, each with
the reason. Scoped to the console's routes (the API keeps its JSON answers)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from bot.console.auth import COOKIE, CsrfMismatch
from bot.console.pages import LoginNeeded, page, runtime_of, sessions_of
from bot.errors import (
    AlreadyDecided,
    ApprovalExpired,
    ConductorError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)

STATUS: tuple[tuple[type[ConductorError], int], ...] = (
    (NotFound, 404),
    (PermissionDenied, 403),
    (CsrfMismatch, 403),
    (AlreadyDecided, 409),
    (ApprovalExpired, 409),
    (InvalidTransition, 409),
)


def status_of(exc: ConductorError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 400)


class ConsoleRoute(APIRoute):
    """An APIRoute whose ConductorError becomes an HTML page (or the sign-in redirect)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handle(request)
            except LoginNeeded as exc:
                response = RedirectResponse(f"/ui/login?next={quote(exc.path)}", status_code=303)
                response.delete_cookie(COOKIE, path="/ui")
                return response
            except ConductorError as exc:
                visitor = sessions_of(request).visitor(
                    runtime_of(request).grants, request.cookies.get(COOKIE)
                )
                code = status_of(exc)
                return page(request, "error.html", visitor, status=code, code=code, message=str(exc))

        return guarded
