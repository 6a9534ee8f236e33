from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.roles import Role
from bot.slack.dispatch import ClickResult, handle_approval_click, handle_command_text
from bot.slack.ports import SlackCore
from bot.slack.signing import ACTION_IDS, ActionSigner, ApprovalAction
from bot.slack.views import ApprovalState
from integrations.slack.wire import SlackActor
from tests.slack.memory_core import MemoryCore
from tests.slack.samples import PENDING, SIGNER, T0, VIEW, texts

ALICE = SlackActor("U0ALICE", "alice", "C0INCIDENTS")
BOB = SlackActor("U0BOB", "bob", "C0INCIDENTS")
MALLORY = SlackActor("U0MALLORY", "mallory", "C0INCIDENTS")
NOW = T0 + timedelta(minutes=5)


@pytest.fixture
def core() -> MemoryCore:
    other = replace(PENDING, approval_id="apr-2", run_id="run-2", approvals=())
    return MemoryCore(
        now=NOW,
        incidents_by_id={VIEW.id: replace(VIEW, approval=None)},
        approvals={"run-1": PENDING, "run-2": other},
        messages={("C0INCIDENTS", "100.1"): "run-1", ("C0INCIDENTS", "200.2"): "run-2"},
        approvers=frozenset({"U0ALICE", "U0BOB"}),
    )


def _as_core(core: MemoryCore) -> SlackCore:
    return core  # type-checks the twin against the Protocol


def command(core: MemoryCore, text: str, actor: SlackActor = ALICE) -> str:
    message = handle_command_text(text, actor=actor, core=_as_core(core), now=NOW)
    return texts(message)


def test_read_commands(core: MemoryCore) -> None:
    assert "/conductor run RUNBOOK TARGET" in command(core, "help")
    assert "*Open incidents* 1 · *Pending approvals* 2" in command(core, "status")
    assert "`INC-7` High CPU on prod/api · open" in command(core, "incidents")
    assert "High CPU on prod/api" in command(core, "show INC-7")
    assert "`aws.glue.restart_job`" in command(core, "runbooks")
    assert "No active silences." in command(core, "silences")
    assert core.audit == []


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        pytest.param("ack INC-7", "role_too_low", id="ack"),
        pytest.param("resolve INC-7", "role_too_low", id="resolve"),
        pytest.param("run aws.glue.restart_job aws:glue:job/etl", "role_too_low", id="run"),
        pytest.param("run aws.glue.restart_job aws:glue:job/etl --dry-run", "role_too_low", id="dry-run"),
        pytest.param("silence alertname=HighCPU 2h", "role_too_low", id="silence"),
        pytest.param("unsilence 3", "role_too_low", id="unsilence"),
    ],
)
def test_a_viewer_may_read_but_not_act(core: MemoryCore, text: str, refusal: str) -> None:
    core.roles["U0MALLORY"] = Role.VIEWER
    assert "*Open incidents* 1" in command(core, "status", MALLORY)
    reply = command(core, text, MALLORY)
    assert "You may not do that" in reply and "needs responder" in reply
    assert core.audit == [("slack:U0MALLORY", "access.refused", refusal)]
    assert core.incidents_by_id[VIEW.id].status == "open"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('silence alertname=~".*" 90d', id="the-reported-mute-all"),
        pytest.param('silence alertname=~".+" 1h', id="every-name"),
        pytest.param("silence alertname=HighCPU 3d", id="longer-than-a-day"),
    ],
)
def test_broad_or_long_silences_need_an_admin(core: MemoryCore, text: str) -> None:
    refused = command(core, text)
    assert "only an admin may create it" in refused
    assert [a for _, a, _ in core.audit] == ["access.refused"]
    core.roles["U0ALICE"] = Role.ADMIN
    assert "Silence `sil-1`" in command(core, text)


def test_state_changes_are_audited_with_the_slack_user(core: MemoryCore) -> None:
    assert ":eyes: acknowledged by <@U0ALICE>" in command(core, "ack INC-7")
    assert "Dry run of `aws.glue.restart_job`" in command(
        core, "run aws.glue.restart_job aws:glue:job/etl --dry-run"
    )
    assert "Silence `sil-1`" in command(core, "silence alertname=HighCPU 2h deploy")
    assert core.audit == [
        ("slack:U0ALICE", "ack", "INC-7"),
        ("slack:U0ALICE", "run", "aws.glue.restart_job aws:glue:job/etl"),
        ("slack:U0ALICE", "silence", 'name="HighCPU"'),
    ]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("show INC-404", "no incident INC-404", id="not-found"),
        pytest.param("unsilence sil-9", "no silence sil-9", id="silence-not-found"),
        pytest.param("frobnicate", "unknown command `frobnicate`", id="unknown"),
        pytest.param("run x", "/conductor run RUNBOOK TARGET", id="usage"),
        pytest.param("approve run-404", "no approval for run run-404", id="no-approval"),
    ],
)
def test_errors_become_replies(core: MemoryCore, text: str, shown: str) -> None:
    assert shown in command(core, text)


def test_second_ack_is_an_invalid_transition(core: MemoryCore) -> None:
    command(core, "ack INC-7")
    assert "is acknowledged" in command(core, "ack INC-7")


def test_approve_and_deny_commands(core: MemoryCore) -> None:
    assert "*Approved* by <@U0ALICE>" in command(core, "approve run-1", BOB)  # quorum 2: Alice + Bob
    assert "*Denied* by <@U0ALICE>" in command(core, "deny run-2 not now")
    assert "You may not decide" in command(core, "approve run-2", MALLORY)


def _button(approval_id: str, run_id: str, action: ApprovalAction, signer: ActionSigner = SIGNER) -> str:
    return signer.sign(approval_id=approval_id, run_id=run_id, action=action, expires_at=PENDING.expires_at)


def click(
    core: MemoryCore,
    value: str,
    *,
    actor: SlackActor = BOB,
    ts: str = "100.1",
    action: ApprovalAction = ApprovalAction.APPROVE,
    now: datetime = NOW,
) -> ClickResult:
    return handle_approval_click(
        value=value,
        action_id=ACTION_IDS[action],
        channel="C0INCIDENTS",
        message_ts=ts,
        actor=actor,
        core=_as_core(core),
        signer=SIGNER,
        now=now,
    )


def test_an_approvers_click_records_the_vote(core: MemoryCore) -> None:
    result = click(core, _button("apr-1", "run-1", ApprovalAction.APPROVE))
    assert result.ephemeral is None
    assert result.approval is not None
    assert result.approval.state is ApprovalState.APPROVED
    assert [v.user for v in result.approval.approvals] == ["U0ALICE", "U0BOB"]
    assert core.audit == [("slack:U0BOB", "approve", "run-1")]


@pytest.mark.parametrize(
    ("make_value", "kwargs", "shown"),
    [
        pytest.param(
            lambda: _button("apr-1", "run-1", ApprovalAction.APPROVE),
            {"actor": MALLORY},
            "You may not decide",
            id="non-approver",
        ),
        pytest.param(
            lambda: _button("apr-1", "run-1", ApprovalAction.APPROVE, ActionSigner(b"x" * 32)),
            {},
            "not valid for this run",
            id="forged",
        ),
        pytest.param(
            lambda: _button("apr-1", "run-1", ApprovalAction.APPROVE),
            {"ts": "200.2"},
            "not valid for this run",
            id="replayed-onto-another-run",
        ),
        pytest.param(
            lambda: _button("apr-1", "run-1", ApprovalAction.APPROVE),
            {"action": ApprovalAction.DENY},
            "not valid for this run",
            id="approve-value-on-deny-button",
        ),
        pytest.param(
            lambda: _button("apr-1", "run-1", ApprovalAction.APPROVE),
            {"ts": "999.9"},
            "not valid for this run",
            id="unknown-message",
        ),
        pytest.param(
            lambda: _button("apr-1", "run-1", ApprovalAction.APPROVE),
            {"now": PENDING.expires_at + timedelta(seconds=1)},
            "expired",
            id="expired",
        ),
    ],
)
def test_refused_clicks_change_nothing_and_are_audited(
    core: MemoryCore, make_value: Callable[[], str], kwargs: dict[str, Any], shown: str
) -> None:
    before = dict(core.approvals)
    result = click(core, make_value(), **kwargs)
    assert result.approval is None
    assert result.ephemeral is not None
    assert shown in texts(result.ephemeral)
    assert core.approvals == before
    assert core.audit
    assert all(entry[1] == "refused" for entry in core.audit)
