"""The secret values a configuration points at, so logs can redact them wherever they appear.

Settings never hold secrets, they name the environment variables that do: every setting whose
name ends in `_env`, the PagerDuty routing-key variables, and the variables the SDKs read on
their own (AWS, Azure). A database URL may carry a password. Each value is registered as it
is, in the shapes it travels in (a basic-auth `user:password` also as its password and as the
base64 of the pair, a comma-separated list item by item, a URL-quoted form).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from urllib.parse import quote

from pydantic import BaseModel
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config.root import Settings

# Read by the SDKs themselves, never named in the config.
SDK_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_CLIENT_SECRET")


def _env_names(model: BaseModel) -> Iterator[str]:
    for name, value in model:
        if isinstance(value, BaseModel):
            yield from _env_names(value)
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, BaseModel):
                    yield from _env_names(item)
        elif isinstance(value, dict):
            for item in value.values():
                if isinstance(item, BaseModel):
                    yield from _env_names(item)
        elif name.endswith("_env") and isinstance(value, str) and value:
            yield value


def _shapes(raw: str) -> Iterator[str]:
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        yield part
        yield quote(part, safe="")
        user, sep, password = part.partition(":")
        if sep and user and password:  # basic credentials as configured, and as sent
            yield password
            yield base64.b64encode(part.encode()).decode()


def secret_variable_names(settings: Settings) -> set[str]:
    """Every environment variable the configuration names for a secret (not the SDKs' own)."""
    return {*_env_names(settings), *settings.pagerduty.routing_keys.values()}


def configured_secret_values(settings: Settings, environ: Mapping[str, str]) -> set[str]:
    names = {*secret_variable_names(settings), *SDK_SECRET_VARIABLES}
    values = {shape for name in names if environ.get(name) for shape in _shapes(environ[name])}
    try:
        password = make_url(settings.database_url()).password
    except ArgumentError:
        password = None
    if password:
        values.update({str(password), quote(str(password), safe="")})
    return values
