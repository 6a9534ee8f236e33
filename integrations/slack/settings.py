"""The `[slack]` configuration section and the secrets it points at.

Config only *names* environment variables; the tokens themselves are read from the environment
by `resolve_secrets` and never stored in config, logged or shown in `repr`.

```toml
[slack]
default_channel = "C0INCIDENTS"
api_url = "https://slack.com/api/"          # optional; else $SLACK_API_URL, else Slack's

[[slack.routing]]
match = { service = "payments-*", severity = ["critical", "error"] }
channel = "C0PAYMENTS"
```

Who may approve is not configured here: `[approvals]` (bot/config/rules.py) is the one place,
for Slack, the CLI and the API alike; Slack user-group ids listed there as `groups` are resolved
with usergroups.users.list.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

DEFAULT_API_URL = "https://slack.com/api/"
API_URL_ENV = "SLACK_API_URL"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Values that are secrets rather than variable names: Slack tokens and long random-looking strings.
_LOOKS_LIKE_SECRET = re.compile(r"(xox[a-z]-|xapp-)|[0-9a-f]{32}", re.IGNORECASE)


def _env_name(value: str) -> str:
    if _LOOKS_LIKE_SECRET.search(value):
        # Never echo the value: it is probably the secret itself.
        raise ValueError("looks like a secret; config names the environment variable that holds it")
    if not _ENV_NAME.match(value):
        raise ValueError("must be an environment variable name (letters, digits, underscore)")
    return value


class _Strict(BaseModel):
    # hide_input_in_errors: a token pasted by mistake must not end up in a validation message.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _as_tuple(value: object) -> object:
    if isinstance(value, str):
        return (value,)
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
Patterns = Annotated[tuple[str, ...] | None, BeforeValidator(_as_tuple)]


class RouteMatch(_Strict):
    """Conditions of one routing rule; every given key must match. Values are shell-style
    patterns (`payments-*`) or lists of them; comparison ignores case."""

    service: Patterns = None
    severity: Patterns = None
    provider: Patterns = None

    def matches(self, *, service: str | None, severity: str | None, provider: str | None) -> bool:
        for patterns, value in (
            (self.service, service),
            (self.severity, severity),
            (self.provider, provider),
        ):
            if patterns is None:
                continue
            if value is None or not any(fnmatchcase(value.lower(), p.lower()) for p in patterns):
                return False
        return True


class RouteRule(_Strict):
    match: RouteMatch = Field(default_factory=RouteMatch)
    channel: str = Field(min_length=1)


class SlackSettings(_Strict):
    bot_token_env: EnvName = "SLACK_BOT_TOKEN"
    signing_secret_env: EnvName = "SLACK_SIGNING_SECRET"
    app_token_env: EnvName = "SLACK_APP_TOKEN"
    # Secret for signing approval buttons. None: derived from the signing secret (or app token).
    button_signing_secret_env: EnvName | None = None
    api_url: str | None = None
    default_channel: str | None = None
    routing: tuple[RouteRule, ...] = ()

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value

    def channel_for(
        self, *, service: str | None = None, severity: str | None = None, provider: str | None = None
    ) -> str | None:
        """The channel of the first routing rule that matches, else `default_channel`."""
        for rule in self.routing:
            if rule.match.matches(service=service, severity=severity, provider=provider):
                return rule.channel
        return self.default_channel


def with_trailing_slash(url: str) -> str:
    """slack_sdk joins method names onto the base URL with urljoin: without the slash the last
    path segment (`api`) would be dropped."""
    return url if url.endswith("/") else url + "/"


def resolve_api_url(settings: SlackSettings, environ: Mapping[str, str]) -> str:
    url = settings.api_url or environ.get(API_URL_ENV) or DEFAULT_API_URL
    return with_trailing_slash(url.strip())


@dataclass(frozen=True, slots=True)
class SlackSecrets:
    """Everything needed to talk to Slack. Secrets are left out of `repr`."""

    api_url: str
    bot_token: str = field(repr=False)
    signing_secret: str | None = field(repr=False)
    app_token: str | None = field(repr=False)
    button_secret: bytes = field(repr=False)

    @property
    def mode(self) -> Literal["socket", "http"]:
        """Socket Mode when an app token is configured, else HTTP (`POST /slack/events`)."""
        return "socket" if self.app_token else "http"


@dataclass(frozen=True, slots=True)
class SlackOff:
    """Slack is not configured; `reason` is what start-up prints."""

    reason: str

    def __bool__(self) -> Literal[False]:
        return False


def derive_button_secret(root: str) -> bytes:
    """A key for button values that is distinct from (and reveals nothing about) its root secret."""
    return hmac.new(root.encode(), b"cloud-conductor/slack-button/v1", hashlib.sha256).digest()


def resolve_secrets(settings: SlackSettings, environ: Mapping[str, str]) -> SlackSecrets | SlackOff:
    """Read the tokens named by `settings` from `environ`.

    Slack is off (a `SlackOff` with the reason, falsy) when the bot token is missing, or when
    there is neither a signing secret (HTTP mode) nor an app token (Socket Mode) to receive with.
    """

    def get(name: str | None) -> str | None:
        if name is None:
            return None
        value = environ.get(name, "").strip()
        return value or None

    bot_token = get(settings.bot_token_env)
    if bot_token is None:
        return SlackOff(f"Slack is off: ${settings.bot_token_env} is not set")
    signing_secret = get(settings.signing_secret_env)
    app_token = get(settings.app_token_env)
    if signing_secret is None and app_token is None:
        return SlackOff(
            f"Slack is off: ${settings.signing_secret_env} (HTTP mode) or "
            f"${settings.app_token_env} (Socket Mode) must be set to receive commands"
        )
    if settings.button_signing_secret_env is not None:
        explicit = get(settings.button_signing_secret_env)
        if explicit is None:
            return SlackOff(f"Slack is off: ${settings.button_signing_secret_env} is not set")
        button_secret = explicit.encode()
    else:
        root = signing_secret or app_token
        assert root is not None  # checked above
        button_secret = derive_button_secret(root)
    return SlackSecrets(
        api_url=resolve_api_url(settings, environ),
        bot_token=bot_token,
        signing_secret=signing_secret,
        app_token=app_token,
        button_secret=button_secret,
    )
