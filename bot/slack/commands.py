"""The `/conductor` command grammar: text in, a typed command out (or usage help).

A pure parser: no store, no Slack. Anything it cannot understand becomes a `CommandUsageError`
whose `help` is the usage of the command the user was trying (or the whole help) — never a
stack trace.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import ClassVar

from bot.errors import ConductorError, InvalidTarget
from bot.matching import InvalidMatcher, Matcher, parse_matcher
from bot.runbook_kit.targets import Target, parse_target
from bot.slack.policy_grammar import POLICY_USAGE, PolicyCommand, parse_policy_command
from bot.timeparse import DurationTooLong, InvalidDuration, parse_duration

MAX_SILENCE = timedelta(days=90)

USAGE: dict[str, str] = {
    "help": "`/conductor help [COMMAND]` — this help, or one command's",
    "status": "`/conductor status` — open incidents, pending approvals, runs in flight, integration health",
    "incidents": "`/conductor incidents [open|all]` — list incidents (default: open)",
    "show": "`/conductor show INCIDENT` — one incident in detail",
    "ack": "`/conductor ack INCIDENT` — acknowledge an incident",
    "resolve": "`/conductor resolve INCIDENT` — resolve an incident",
    "runbooks": "`/conductor runbooks` — the runbooks you can run",
    "run": (
        "`/conductor run RUNBOOK TARGET [key=value ...] [--dry-run]` — run a runbook "
        "(e.g. `run aws.ecs.scale_service aws:ecs:service/prod/api desired=4 --dry-run`)"
    ),
    "approve": "`/conductor approve RUN` — approve a pending run",
    "deny": "`/conductor deny RUN [reason ...]` — deny a pending run",
    "silence": (
        "`/conductor silence MATCHER... DURATION [comment ...]` — mute matching alerts "
        '(e.g. `silence alertname=HighCPU service=~"api.*" severity!=info 2h deploy in progress`; '
        "operators `=` `!=` `=~` `!~`; durations like `30m`, `2h`, `1d`, `1h30m`)"
    ),
    "silences": "`/conductor silences` — active silences",
    "unsilence": "`/conductor unsilence SILENCE` — expire a silence now",
    **POLICY_USAGE,
}

HELP_TEXT = "*Cloud Conductor* — `/conductor COMMAND ...`\n" + "\n".join(f"• {u}" for u in USAGE.values())

_ALIASES = {"?": "help", "-h": "help", "--help": "help", "incident": "show", "silence-list": "silences"}


class CommandUsageError(ConductorError):
    """Input the grammar does not accept. `reason` says what is wrong; `help` is the usage to show."""

    def __init__(self, reason: str, *, help: str = HELP_TEXT) -> None:
        self.reason = reason
        self.help = help
        super().__init__(reason)

    @property
    def text(self) -> str:
        """What to show the user: the reason, then the usage."""
        return f"{self.reason}\n{self.help}" if self.reason else self.help


class IncidentScope(StrEnum):
    OPEN = "open"
    ALL = "all"


# Each command says whether it changes state: the listener audits those with the Slack user.
@dataclass(frozen=True, slots=True)
class Help:
    topic: str | None = None
    changes_state: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Status:
    changes_state: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class ListIncidents:
    scope: IncidentScope = IncidentScope.OPEN
    changes_state: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class ShowIncident:
    incident_id: str
    changes_state: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Ack:
    incident_id: str
    changes_state: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Resolve:
    incident_id: str
    changes_state: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class ListRunbooks:
    changes_state: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Run:
    runbook: str
    target: Target
    params: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    changes_state: ClassVar[bool] = True  # a dry run changes nothing, but is audited as a request


@dataclass(frozen=True, slots=True)
class Approve:
    run_id: str
    changes_state: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Deny:
    run_id: str
    reason: str = ""
    changes_state: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Silence:
    matchers: tuple[Matcher, ...]
    duration: timedelta
    comment: str = ""
    changes_state: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class ListSilences:
    changes_state: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Unsilence:
    silence_id: str
    changes_state: ClassVar[bool] = True


Command = (
    Help
    | Status
    | ListIncidents
    | ShowIncident
    | Ack
    | Resolve
    | ListRunbooks
    | Run
    | Approve
    | Deny
    | Silence
    | ListSilences
    | Unsilence
)

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:#-]{0,127}\Z")
_PARAM_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# A token that looks like NAME<op>VALUE; `bot.matching.parse_matcher` does the real parsing.
_MATCHER = re.compile(r"[A-Za-z_][A-Za-z0-9_:]*(?P<op>=~|!~|!=|=)(?P<value>.*)\Z", re.DOTALL)
# Slack sends typographic quotes when the client "smartens" them, and escapes &, < and >.
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'"})


def _code(token: str) -> str:
    """User input quoted inside a reason: escaped so `<!channel>` and friends stay inert."""
    safe = token.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")
    return f"`{safe[:80]}`"


def _usage(name: str, reason: str) -> CommandUsageError:
    return CommandUsageError(reason, help=USAGE[name])


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").translate(_QUOTES)


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(_unescape(text))
    except ValueError as exc:  # unbalanced quotes
        raise CommandUsageError(f"could not read the command: {exc}") from None


def _one_id(name: str, args: list[str], what: str) -> str:
    if len(args) != 1:
        raise _usage(name, f"{_code(name)} takes exactly one {what}")
    if not _ID.match(args[0]):
        raise _usage(name, f"{_code(args[0])} is not a valid {what}")
    return args[0]


def _no_args(name: str, args: list[str]) -> None:
    if args:
        raise _usage(name, f"{_code(name)} takes no arguments")


def _duration(text: str) -> timedelta:
    """A silence length via `bot.timeparse.parse_duration`: positive, at most `MAX_SILENCE`."""
    try:
        duration = parse_duration(text)
    except DurationTooLong:  # more days than timedelta holds
        duration = MAX_SILENCE + timedelta(seconds=1)
    except InvalidDuration:
        raise _usage(
            "silence", f"{_code(text)} is not a positive duration (use e.g. 30m, 2h, 1d, 1h30m)"
        ) from None
    if duration > MAX_SILENCE:
        raise _usage("silence", f"a silence may last at most {MAX_SILENCE.days} days")
    return duration


def _matcher(text: str) -> Matcher:
    """One matcher via `bot.matching.parse_matcher` (so Slack, the CLI and the API agree)."""
    m = _MATCHER.match(text)
    if m is not None and m["op"] in ("=~", "!~"):
        try:  # the regex dialect of every matcher (RE2), not Python's
            Matcher("name", m["op"], m["value"].strip().strip('"').strip("'"))
        except InvalidMatcher:
            raise _usage("silence", f"{_code(text)}: bad regular expression") from None
    try:
        return parse_matcher(text)
    except InvalidMatcher:
        raise _usage("silence", f"{_code(text)} is not a matcher (use label=value, !=, =~ or !~)") from None


def _looks_like_matcher(token: str) -> bool:
    return _MATCHER.match(token) is not None


def _parse_run(args: list[str]) -> Run:
    dry_run = False
    positional: list[str] = []
    params: dict[str, str] = {}
    for arg in args:
        if arg in ("--dry-run", "--dryrun", "--plan"):
            dry_run = True
        elif arg.startswith("--"):
            raise _usage("run", f"unknown option {_code(arg)}")
        elif "=" in arg and len(positional) >= 2:
            key, _, value = arg.partition("=")
            if not _PARAM_KEY.match(key):
                raise _usage("run", f"{_code(key)} is not a parameter name")
            if key in params:
                raise _usage("run", f"parameter {_code(key)} is given twice")
            params[key] = value
        else:
            positional.append(arg)
    if len(positional) != 2:
        raise _usage("run", "`run` needs a RUNBOOK and a TARGET, then optional key=value parameters")
    runbook, raw_target = positional
    if not _ID.match(runbook):
        raise _usage("run", f"{_code(runbook)} is not a runbook id")
    try:
        target = parse_target(raw_target)
    except InvalidTarget as exc:
        raise _usage("run", str(exc).replace("<", "&lt;").replace(">", "&gt;")) from None
    return Run(runbook=runbook, target=target, params=params, dry_run=dry_run)


def _parse_silence(args: list[str]) -> Silence:
    matchers: list[Matcher] = []
    rest = list(args)
    while rest and _looks_like_matcher(rest[0]):
        matchers.append(_matcher(rest.pop(0)))
    if not matchers:
        raise _usage("silence", "give at least one matcher, e.g. `alertname=HighCPU`")
    if not rest:
        raise _usage("silence", "give a duration after the matchers, e.g. `2h`")
    duration = _duration(rest.pop(0))
    return Silence(matchers=tuple(matchers), duration=duration, comment=" ".join(rest))


def parse_command(text: str) -> Command | PolicyCommand:
    """Parse the text after `/conductor`. Empty text is `help`."""
    tokens = _tokens(text)
    if not tokens:
        return Help()
    name, args = tokens[0].lower(), tokens[1:]
    name = _ALIASES.get(name, name)
    if name == "help":
        if len(args) > 1:
            raise _usage("help", "`help` takes at most one command name")
        topic = _ALIASES.get(args[0].lower(), args[0].lower()) if args else None
        if topic is not None and topic not in USAGE:
            raise CommandUsageError(f"no command {_code(topic)}")
        return Help(topic)
    if name == "status":
        _no_args(name, args)
        return Status()
    if name == "incidents":
        if len(args) > 1 or (args and args[0].lower() not in {s.value for s in IncidentScope}):
            raise _usage(name, "`incidents` takes `open` or `all`")
        return ListIncidents(IncidentScope(args[0].lower()) if args else IncidentScope.OPEN)
    if name == "show":
        return ShowIncident(_one_id(name, args, "incident id"))
    if name == "ack":
        return Ack(_one_id(name, args, "incident id"))
    if name == "resolve":
        return Resolve(_one_id(name, args, "incident id"))
    if name == "runbooks":
        _no_args(name, args)
        return ListRunbooks()
    if name == "run":
        return _parse_run(args)
    if name == "approve":
        return Approve(_one_id(name, args, "run id"))
    if name == "deny":
        if not args:
            raise _usage(name, "`deny` needs a run id")
        return Deny(_one_id(name, args[:1], "run id"), reason=" ".join(args[1:]))
    if name == "silence":
        return _parse_silence(args)
    if name == "silences":
        _no_args(name, args)
        return ListSilences()
    if name == "unsilence":
        return Unsilence(_one_id(name, args, "silence id"))
    if name in POLICY_USAGE:
        return parse_policy_command(name, args)
    close = difflib.get_close_matches(name, list(USAGE), n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    raise CommandUsageError(f"unknown command {_code(name)}.{hint}")


def help_for(topic: str | None) -> str:
    """The help to show for `help [topic]`."""
    if topic is None or topic not in USAGE:
        return HELP_TEXT
    return USAGE[topic]
