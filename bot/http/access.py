"""FastAPI dependencies that put the authorization decision in front of routes.

- `caller`: the principal behind `Authorization: Bearer <token>` (401 without a configured token;
  a non-proxy token naming someone in `X-Conductor-User` gets 403, audited).
- `require(action)`: `caller`, allowed to do `action` (403 with the named reason, audited).
- `reading(surface)`: viewer for a read surface ("api", "metrics", "docs"), unless
  `[permissions] anonymous_read` opens it; returns None for an anonymous reader.

Any route — the JSON API, /metrics, the docs, a web page added later — uses them the same way:
`principal: Annotated[Principal, Depends(require(Action.RESOLVE))]`. They are plain functions,
so FastAPI runs them on its thread pool (a refusal writes its audit record).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request

from bot.access.policy import AccessRequest, Action, Do, Refused
from bot.config.permissions import ReadSurface
from bot.errors import PermissionDenied
from bot.roles import Principal
from bot.runtime import Runtime

FORWARDED_USER = "x-conductor-user"


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _unauthenticated(runtime: Runtime) -> HTTPException:
    detail = "unauthenticated: send Authorization: Bearer <token>"
    if not runtime.grants.tokens:
        detail += " (no API token is configured: see [[permissions.api_tokens]])"
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def caller(request: Request) -> Principal:
    runtime = _runtime(request)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    token = (
        runtime.grants.token(presented.strip()) if scheme.lower() == "bearer" and presented.strip() else None
    )
    if token is None:
        raise _unauthenticated(runtime)
    principal = runtime.grants.api_caller(token, request.headers.get(FORWARDED_USER, "").strip())
    if isinstance(principal, Refused):
        try:
            runtime.guard.refuse(token.actor, principal, attempt=f"{request.method} {request.url.path}")
        except PermissionDenied as exc:
            raise HTTPException(403, str(exc)) from None
    assert isinstance(principal, Principal)
    return principal


def enforce(request: Request, principal: Principal, what: AccessRequest) -> None:
    """`Guard.enforce` for a route: a refusal becomes 403 (and is audited)."""
    try:
        _runtime(request).guard.enforce(principal, what, subject=f"http:{request.url.path}")
    except PermissionDenied as exc:
        raise HTTPException(403, f"{exc.reason}: {exc}") from None


def require(action: Action) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = caller(request)
        enforce(request, principal, Do(action))
        return principal

    return dependency


def reading(surface: ReadSurface) -> Callable[[Request], Principal | None]:
    def dependency(request: Request) -> Principal | None:
        if surface in _runtime(request).settings.permissions.anonymous_read:
            return None
        return require(Action.READ)(request)

    return dependency
