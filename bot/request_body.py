"""Reading a request body without ever holding more of it than the limit allows."""

from __future__ import annotations

from starlette.requests import Request

from bot.errors import ConductorError


class BodyTooLarge(ConductorError):
    """The body is (or declares to be) larger than the limit: answer 413."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, read as it streams in; BodyTooLarge as soon as it passes `limit` bytes (a
    chunked body declares no length, so the check is on what has arrived, not on a header)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
