"""`[permissions]`: the roles people, API tokens and the CLI hold (see docs/security.md).

Secrets are never values here: each API token names the environment variable that holds it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.config.settings import Section
from bot.roles import Role

_TOKEN_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class ApiTokenSettings(Section):
    """One named API token. Its holder acts as `api:<name>` with `role`."""

    name: str
    secret_env: str  # the environment variable holding the token
    role: Role
    # Honour `X-Conductor-User`: the person it names acts, with their own role from [permissions]
    # but never above this token's `role`. Only for a proxy you run (SSO gateway, web console).
    trusted_proxy: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _TOKEN_NAME.match(value):
            raise ValueError(
                "use lower-case letters, digits, '.', '_' or '-' (it becomes the actor api:<name>)"
            )
        return value

    @field_validator("secret_env")
    @classmethod
    def _env(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(
                f"{value!r} is not an environment variable name (put secrets in the environment)"
            )
        return value


class CliSettings(Section):
    """The CLI acts as `cli:<OS user>`: whoever can run it can also reach the store directly."""

    role: Role = Role.ADMIN
    # Honour `--as NAME`: NAME acts, with their own role but never above `role`. Off by default:
    # otherwise one shell user could cast a whole quorum's votes under different names.
    act_as: bool = False


ReadSurface = Literal["api", "metrics", "docs"]


class PermissionSettings(Section):
    # The role of a Slack workspace member (or a person a trusted proxy or `--as` names) whom
    # nothing below grants more. "none": such people may not even read.
    default_role: Role | Literal["none"] = Role.VIEWER
    # Slack user ids (`U…` or `slack:U…`), or names a trusted proxy / `--as` uses -> role.
    users: dict[str, Role] = Field(default_factory=dict)
    # Slack user-group ids (`S…`) or groups defined under [approvals.groups] -> role.
    groups: dict[str, Role] = Field(default_factory=dict)
    api_tokens: list[ApiTokenSettings] = Field(default_factory=list)
    cli: CliSettings = Field(default_factory=CliSettings)
    # Read surfaces answered without a token: "api" (GET /api/*), "metrics" (/metrics),
    # "docs" (/api/docs and /api/openapi.json). /healthz and /readyz are always open.
    anonymous_read: list[ReadSurface] = Field(default_factory=list)
    # Silences longer than this (and silences matching every alert) need admin.
    max_silence_hours: float = Field(default=24.0, gt=0)

    @model_validator(mode="after")
    def _unique_tokens(self) -> PermissionSettings:
        names = [t.name for t in self.api_tokens]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"api_tokens: the name {twice[0]!r} is used twice")
        return self
