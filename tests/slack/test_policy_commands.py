"""`/conductor freeze|resume|runit` and the Run it button, against the real core over a store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.engine.requests import RunRequest
from bot.policies.circuits import list_circuits
from bot.runtime import Runtime
from bot.slack.commands import CommandUsageError, parse_command
from bot.slack.core import StoreSlackCore
from bot.slack.dispatch import handle_command_text, handle_suggestion_click
from bot.slack.policy_grammar import (
    AddFreeze,
    EndFreeze,
    ListFreezes,
    PolicyUsageError,
    Resume,
    RunSuggestion,
)
from bot.store.models import Circuit, Freeze, RunbookRun
from integrations.slack.wire import SlackActor
from tests.slack.rig import BUMP, make_slack_runtime

ALICE = SlackActor("U0ALICE", channel_id="C1")  # responder
BOB = SlackActor("U0BOB", channel_id="C1")  # approver (named in [approvals])
MALLORY = SlackActor("U0MALLORY", channel_id="C1")  # viewer


@pytest.fixture
def runtime(data_dir: Path) -> Iterator[Runtime]:
    rt, _system = make_slack_runtime(data_dir)
    yield rt
    rt.store.dispose()


def core_of(runtime: Runtime) -> StoreSlackCore:
    return StoreSlackCore(
        store=runtime.store,
        engine=runtime.engine,
        settings=runtime.settings,
        clock=runtime.clock,
        grants=runtime.grants,
        guard=runtime.guard,
    )


def reply(runtime: Runtime, text: str, actor: SlackActor) -> str:
    message = handle_command_text(text, actor=actor, core=core_of(runtime), now=runtime.clock())
    return " ".join(str(b) for b in message.blocks) + " " + message.text


@pytest.mark.parametrize(
    ("text", "command"),
    [
        pytest.param("freeze", ListFreezes(), id="list-default"),
        pytest.param("freeze list", ListFreezes(), id="list"),
        pytest.param(
            'freeze add "release freeze" 2h service=orders runbook=~"aws\\.ecs\\..*" block',
            AddFreeze("release freeze", "2h", ("service=orders", "runbook=~aws\\.ecs\\..*"), block=True),
            id="add",
        ),
        pytest.param("freeze end 4", EndFreeze(4), id="end"),
        pytest.param("resume aws.ecs.scale_service", Resume("aws.ecs.scale_service"), id="resume"),
        pytest.param("runit 12", RunSuggestion(12), id="runit"),
    ],
)
def test_parse(text: str, command: object) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize(
    "text",
    ["freeze add onlyname", "freeze end x", "freeze end 1 2", "freeze stop", "resume", "runit", "runit abc"],
)
def test_usage_errors(text: str) -> None:
    with pytest.raises((PolicyUsageError, CommandUsageError)):
        parse_command(text)


def test_help_lists_the_policy_commands(runtime: Runtime) -> None:
    assert "freeze add NAME DURATION" in reply(runtime, "help freeze", MALLORY)
    assert "/conductor resume" in reply(runtime, "help", MALLORY)


def test_freeze_needs_an_approver_and_is_audited(runtime: Runtime) -> None:
    refused = reply(runtime, "freeze add release 2h service=orders", ALICE)
    assert "approver" in refused
    added = reply(runtime, 'freeze add "release freeze" 2h service=orders', BOB)
    assert 'Freeze #1 \\"release freeze\\"' in added or 'Freeze #1 "release freeze"' in added
    assert "automatic runs need approval" in added
    listed = reply(runtime, "freeze", MALLORY)
    assert "release freeze" in listed and "in force" in listed
    assert "Freeze #1 ended" in reply(runtime, "freeze end 1", BOB)
    with runtime.store.sessions() as session:
        [row] = session.scalars(select(Freeze)).all()
        assert row.created_by == "slack:U0BOB" and row.ended_by == "slack:U0BOB" and row.origin == "slack"


def test_a_bad_freeze_is_answered_and_stores_nothing(runtime: Runtime) -> None:
    answer = reply(runtime, "freeze add x 2h team=a", BOB)
    assert "scope is one of" in answer
    answer = reply(runtime, "freeze add x soon", BOB)
    assert "duration" in answer
    with runtime.store.sessions() as session:
        assert session.scalars(select(Freeze)).all() == []


def test_resume_closes_the_circuit(runtime: Runtime) -> None:
    with runtime.store.transaction() as session:
        session.add(
            Circuit(scope=f"runbook:{BUMP}", opened_at=runtime.clock(), reason="r", run_ids=[], closed_by="")
        )
    assert "role" in reply(runtime, f"resume {BUMP}", ALICE)
    assert f"automatic runs of runbook:{BUMP} resume" in reply(runtime, f"resume {BUMP}", BOB)
    with runtime.store.sessions() as session:
        assert list_circuits(session, now=runtime.clock()) == []
    assert "no open circuit" in reply(runtime, f"resume {BUMP}", BOB)


def _suggestion(runtime: Runtime) -> int:
    outcome = runtime.engine.request(
        RunRequest(BUMP, "jira:project/A", {"level": 3}, requested_by="rule:r", rule="r", mode="suggest")
    )
    assert outcome.status == "suggested" and outcome.run_id is not None
    return outcome.run_id


def test_run_it_button_runs_the_suggestion_as_the_clicker(runtime: Runtime) -> None:
    run_id = _suggestion(runtime)
    core = core_of(runtime)
    refused = handle_suggestion_click(value=str(run_id), actor=MALLORY, core=core, now=runtime.clock())
    assert "responder" in refused.text + str(refused.blocks)
    taken = handle_suggestion_click(value=str(run_id), actor=ALICE, core=core, now=runtime.clock())
    assert "approved" in taken.text + str(taken.blocks)
    again = handle_suggestion_click(value=str(run_id), actor=ALICE, core=core, now=runtime.clock())
    assert "already run" in again.text + str(again.blocks)
    forged = handle_suggestion_click(value="<!channel>", actor=ALICE, core=core, now=runtime.clock())
    assert "not valid" in forged.text
    with runtime.store.sessions() as session:
        runs = session.scalars(select(RunbookRun).order_by(RunbookRun.id)).all()
    assert [(r.status, r.requested_by) for r in runs] == [
        ("suggested", "rule:r"),
        ("approved", "slack:U0ALICE"),
    ]


def test_runit_command(runtime: Runtime) -> None:
    run_id = _suggestion(runtime)
    assert "approved" in reply(runtime, f"runit {run_id}", ALICE)
