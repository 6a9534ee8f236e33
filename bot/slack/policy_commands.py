"""`/conductor freeze ...`, `/conductor resume SCOPE` and `/conductor runit RUN`: parsing, and the
one core call each makes (as the Slack user, after the same authorization as the CLI and API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from bot.access.policy import Action, Do
from bot.engine.engine import Engine
from bot.errors import ConductorError
from bot.policies.circuits import resume
from bot.policies.freeze_input import freeze_from_options
from bot.policies.freezes import add_freeze, end_freeze, freeze_json, list_freezes
from bot.slack.blocks import SlackMessage
from bot.slack.policy_messages import render_freezes, render_policy_done
from bot.slack.policy_usage import POLICY_USAGE
from bot.slack.ports import SlackActor, SlackCore
from bot.store.db import Store

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


@dataclass(frozen=True)
class SlackPolicies:
    """The store and engine behind the policy commands."""

    store: Store
    engine: Engine

    def execute(self, command: PolicyCommand, *, actor: SlackActor, now: datetime) -> SlackMessage:
        who = actor.audit_name
        match command:
            case ListFreezes():
                with self.store.sessions() as session:
                    rows = [freeze_json(f, now) for f in list_freezes(session, now=now)]
                return render_freezes(rows)
            case AddFreeze(name, duration, matchers, block, maintenance):
                declared = freeze_from_options(
                    name=name,
                    matchers=matchers,
                    now=now,
                    duration=duration,
                    block=block,
                    maintenance=maintenance,
                )
                with self.store.transaction() as session:
                    row = freeze_json(
                        add_freeze(session, declared, created_by=who, origin="slack", now=now), now
                    )
                effect = "blocks automatic runs" if row["block"] else "automatic runs need approval"
                return render_policy_done(
                    f'Freeze #{row["id"]} "{row["name"]}" on {row["scope"]} until {row["ends_at"]}: {effect}'
                )
            case EndFreeze(freeze_id):
                with self.store.transaction() as session:
                    end_freeze(session, freeze_id, actor=who, now=now)
                return render_policy_done(f"Freeze #{freeze_id} ended")
            case Resume(scope):
                with self.store.transaction() as session:
                    closed = resume(session, scope, actor=who, now=now)
                    what = closed[0].scope
                return render_policy_done(f"Circuit closed: automatic runs of {what} resume")
            case RunSuggestion(run_id):
                outcome = self.engine.run_suggestion(run_id, requested_by=who)
                return render_policy_done(
                    f"Run {outcome.run_id}: {outcome.status} ({outcome.reason})"
                    if outcome.run_id is not None
                    else f"Not run: {outcome.reason}"
                )


def execute_policy_command(
    command: PolicyCommand, *, actor: SlackActor, core: SlackCore, now: datetime
) -> SlackMessage:
    core.authorize(access_for_policy(command), actor=actor)
    return core.policies().execute(command, actor=actor, now=now)
