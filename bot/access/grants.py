"""From what an entry point knows about its caller to a `Principal`, using `[permissions]` and
`[approvals]`.

- A Slack user acts as `slack:<user id>`; their role is the highest of `default_role`, their entry
  in `[permissions.users]`, the entries of their groups in `[permissions.groups]` (Slack user
  groups they belong to, named groups under `[approvals.groups]` that list them), and approver when
  an `[approvals.approvers]` entry names them or one of their groups.
- An API token acts as `api:<name>` with the token's role (plus the same approver grant). A
  trusted-proxy token may name the person it acts for in `X-Conductor-User`: that person acts, with
  their own role capped at the token's. Any other token naming someone is refused.
- The CLI acts as `cli:<OS user>` with `[permissions.cli] role` (default admin); with `act_as`,
  `--as NAME` acts for NAME, capped the same way.
- `[server] api_token_env`, when its variable is set, is the token `default` with the responder
  role, so configurations from before named tokens keep working.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.access.policy import Limits, Refusal, Refused
from bot.config.permissions import ApiTokenSettings
from bot.config.root import Settings
from bot.roles import Principal, Role, capped, highest, identity

LEGACY_TOKEN = "default"
_SLACK_GROUP = re.compile(r"S[A-Z0-9]{2,}\Z")


def is_slack_group(name: str) -> bool:
    """A Slack user-group id (`S0123ABC`), as opposed to a group name from `[approvals.groups]`."""
    return _SLACK_GROUP.match(name) is not None


@dataclass(frozen=True, slots=True)
class ApiToken:
    settings: ApiTokenSettings
    secret: bytes

    @property
    def actor(self) -> str:
        return f"api:{self.settings.name}"


def api_tokens(settings: Settings, environ: Mapping[str, str]) -> list[ApiToken]:
    """The tokens whose secret is set (a token without one is off; check-config says so)."""
    declared = list(settings.permissions.api_tokens)
    legacy = settings.server.api_token_env
    if environ.get(legacy) and all(t.name != LEGACY_TOKEN for t in declared):
        declared.append(ApiTokenSettings(name=LEGACY_TOKEN, secret_env=legacy, role=Role.RESPONDER))
    return [ApiToken(t, environ[t.secret_env].encode()) for t in declared if environ.get(t.secret_env)]


class Grants:
    """Builds principals. Holds no state but the configuration and the tokens' secrets."""

    def __init__(self, settings: Settings, environ: Mapping[str, str]) -> None:
        self._permissions = settings.permissions
        self._approvals = settings.approvals
        self.tokens = api_tokens(settings, environ)
        self.limits = Limits(max_silence=timedelta(hours=self._permissions.max_silence_hours))
        self._default = (
            None if self._permissions.default_role == "none" else Role(self._permissions.default_role)
        )
        self._users = {identity(k): v for k, v in self._permissions.users.items()}
        rules = list(self._approvals.approvers.values())
        self._approver_users = {identity(u) for rule in rules for u in rule.users}
        self._approver_groups = {g for rule in rules for g in rule.groups}

    # --- groups ---------------------------------------------------------------------------
    def named_groups(self, actor: str) -> frozenset[str]:
        """The `[approvals.groups]` groups that list `actor` (however it is spelled)."""
        me = identity(actor)
        return frozenset(
            name for name, members in self._approvals.groups.items() if me in {identity(m) for m in members}
        )

    def slack_groups_that_matter(self) -> list[str]:
        """Slack user groups whose membership grants something: ask Slack about these only."""
        named = set(self._permissions.groups) | self._approver_groups
        return sorted(g for g in named if is_slack_group(g))

    # --- roles ----------------------------------------------------------------------------
    def role_of(self, actor: str, groups: Iterable[str], *, base: Role | None) -> Role | None:
        me = identity(actor)
        groups = set(groups)
        granted = [base, self._users.get(me)]
        granted += [self._permissions.groups[g] for g in groups if g in self._permissions.groups]
        if me in self._approver_users or groups & self._approver_groups:
            granted.append(Role.APPROVER)
        return highest(*granted)

    def person(
        self, actor: str, *, slack_groups: Iterable[str] = (), cap: Role | None = None, via: str = ""
    ) -> Principal:
        """A person: a Slack user (`slack:U…`), or someone a trusted proxy or `--as` names."""
        groups = frozenset(slack_groups) | self.named_groups(actor)
        role = self.role_of(actor, groups, base=self._default)
        return Principal(actor, capped(role, cap) if cap is not None else role, groups, via)

    def slack_user(self, user_id: str, slack_groups: Iterable[str] = ()) -> Principal:
        return self.person(f"slack:{user_id}", slack_groups=slack_groups)

    # --- API tokens -----------------------------------------------------------------------
    def token(self, presented: str) -> ApiToken | None:
        """The configured token equal to `presented` (every one compared in constant time)."""
        given = presented.encode()
        found = None
        for token in self.tokens:
            if hmac.compare_digest(given, token.secret):
                found = token
        return found

    def api_caller(self, token: ApiToken, forwarded_user: str) -> Principal | Refused:
        """The token itself, or the person its trusted proxy names in `X-Conductor-User`."""
        if forwarded_user:
            if not token.settings.trusted_proxy:
                return Refused(
                    Refusal.UNTRUSTED_FORWARDED_USER,
                    f"{token.actor} may not act for {forwarded_user!r}: it is not a trusted proxy",
                )
            return self.person(forwarded_user, cap=token.settings.role, via=token.actor)
        groups = self.named_groups(token.actor)
        return Principal(token.actor, self.role_of(token.actor, groups, base=token.settings.role), groups)

    # --- the CLI --------------------------------------------------------------------------
    def cli_user(self, os_user: str, act_as: str | None = None) -> Principal | Refused:
        cli = self._permissions.cli
        actor = f"cli:{os_user}"
        if act_as:
            if not cli.act_as:
                return Refused(
                    Refusal.UNTRUSTED_FORWARDED_USER,
                    f"--as {act_as}: the CLI acts as {actor} unless [permissions.cli] act_as = true",
                )
            return self.person(act_as, cap=cli.role, via=actor)
        groups = self.named_groups(actor)
        return Principal(actor, self.role_of(actor, groups, base=cli.role), groups)
