"""The grammar of `/conductor freeze ...`, `/conductor resume SCOPE` and `/conductor runit RUN`:
text in, a typed command out (or a `PolicyUsageError` with the usage). Pure, like
`bot.slack.commands`, which hands these names over to `parse_policy_command`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from bot.access.policy import Action, Do
from bot.errors import ConductorError

POLICY_USAGE = {
    "freeze": (
        "`/conductor freeze [list]` · `freeze add NAME DURATION [MATCHER...] [block] [maintenance]` · "
        "`freeze end ID` — change freezes: automatic runs in scope need approval (or stop, with `block`) "
        '(e.g. `freeze add "release freeze" 2h service=orders`; '
        "matchers on service, provider, resource, runbook)"
    ),
    "resume": "`/conductor resume RUNBOOK` (or `service:NAME`) — close an open circuit breaker",
    "runit": "`/conductor runit RUN` — run a suggested run as you (what its Run it button does)",
}

FLAGS = ("block", "maintenance")


class PolicyUsageError(ConductorError):
    """A policy command the grammar does not accept; `help` is its usage."""

    def __init__(self, reason: str, *, name: str) -> None:
        self.reason = reason
        self.help = POLICY_USAGE[name]
        super().__init__(reason)

    @property
    def text(self) -> str:
        return f"{self.reason}\n{self.help}"


@dataclass(frozen=True, slots=True)
class ListFreezes:
    changes_state: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class AddFreeze:
    name: str
    duration: str
    matchers: tuple[str, ...] = ()
    block: bool = False
    maintenance: bool = False
    changes_state: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class EndFreeze:
    freeze_id: int
    changes_state: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Resume:
    scope: str
    changes_state: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class RunSuggestion:
    run_id: int
    flags: tuple[str, ...] = field(default=())
    changes_state: ClassVar[bool] = True


PolicyCommand = ListFreezes | AddFreeze | EndFreeze | Resume | RunSuggestion
POLICY_COMMAND_TYPES = (ListFreezes, AddFreeze, EndFreeze, Resume, RunSuggestion)


def _number(text: str, what: str, name: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise PolicyUsageError(f"`{text[:40]}` is not a {what}", name=name)
    return int(text)


def parse_policy_command(name: str, args: list[str]) -> PolicyCommand:
    if name == "freeze":
        sub, rest = (args[0].lower(), args[1:]) if args else ("list", [])
        if sub == "list" and not rest:
            return ListFreezes()
        if sub == "end" and len(rest) == 1:
            return EndFreeze(_number(rest[0], "freeze id", name))
        if sub == "add" and len(rest) >= 2:
            flags = {a.lower() for a in rest[2:] if a.lower() in FLAGS}
            matchers = tuple(a for a in rest[2:] if a.lower() not in FLAGS)
            return AddFreeze(rest[0], rest[1], matchers, "block" in flags, "maintenance" in flags)
        raise PolicyUsageError(
            "use `freeze list`, `freeze add NAME DURATION ...` or `freeze end ID`", name=name
        )
    if name == "resume":
        if len(args) != 1:
            raise PolicyUsageError("`resume` takes one runbook id (or service:NAME)", name=name)
        return Resume(args[0])
    if len(args) != 1:
        raise PolicyUsageError("`runit` takes one run id", name=name)
    return RunSuggestion(_number(args[0], "run id", name))


def access_for_policy(command: PolicyCommand) -> Do:
    match command:
        case ListFreezes():
            return Do(Action.READ)
        case AddFreeze() | EndFreeze():
            return Do(Action.FREEZE)
        case Resume():
            return Do(Action.RESUME)
        case RunSuggestion():
            return Do(Action.RUN)
