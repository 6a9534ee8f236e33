from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.runbook_kit.spec import Outcome, Plan, PlannedCall, RunResult, VerifyStatus
from bot.slack.blocks import APPROVAL_BLOCK_PREFIX, render_incident
from bot.slack.signing import ACTION_IDS, ApprovalAction
from bot.slack.text import format_duration, redact
from bot.slack.thread import (
    render_escalation,
    render_repeat,
    render_resolution,
    render_run,
    render_verification,
)
from bot.slack.views import (
    AnomalyView,
    ApprovalState,
    ApprovalView,
    EscalationView,
    FiredAlert,
    IncidentLinks,
    RepeatView,
    ResolutionView,
    RunSummary,
    RunView,
    VerificationView,
    Vote,
)
from integrations.slack.wire import SlackMessage
from tests.slack.samples import PENDING, PLAN, PROPOSAL, SIGNER, T0, VIEW, texts


def actions(message: SlackMessage) -> list[dict[str, Any]]:
    return [b for b in message.blocks if b["type"] == "actions"]


def assert_within_slack_limits(message: SlackMessage) -> None:
    assert message.text
    assert len(message.blocks) <= 50
    for block in message.blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    json.dumps(message.blocks)  # JSON-able


def test_parent_message_shows_the_incident() -> None:
    message = render_incident(VIEW, signer=SIGNER)
    body = texts(message)
    assert message.blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": VIEW.title, "emoji": True},
    }
    for expected in [
        "*Severity*\n:red_circle: critical",
        "*Status*\n:rotating_light: open",
        "aws ecs service prod/api (eu-west-1)",
        "cloudwatch",
        "2 firing, 1 resolved · fired again (x3)",
        "*Anomaly score* 0.97 (threshold 0.90, anomalous)",
        "CPU 97% vs 41% typical",
        "approval needed: risk medium &gt;= medium",
        "*Proposed runbook* `aws.ecs.scale_service` on `aws:ecs:service/prod/api` · risk *medium*",
        "Scale prod/api from 2 to 4 tasks",
        '`aws.ecs` `UpdateService` {"cluster": "prod", "service": "api"}: 2 → 4 — double the tasks',
        "Incident `INC-7`",
        "<https://jira.example.com/browse/OPS-12|OPS-12>",
        "<https://pd.example.com/incidents/PD1|PD1>",
    ]:
        assert expected in body, expected
    assert message.text.startswith("[CRITICAL] High CPU on prod/api — aws ecs service prod/api")
    assert "approval needed (1/2)" in message.text
    assert_within_slack_limits(message)


def test_pending_approval_has_signed_buttons_and_quorum_progress() -> None:
    message = render_incident(VIEW, signer=SIGNER)
    [block] = actions(message)
    assert block["block_id"] == APPROVAL_BLOCK_PREFIX + "apr-1"
    approve, deny = block["elements"]
    assert approve["action_id"] == ACTION_IDS[ApprovalAction.APPROVE]
    assert deny["action_id"] == ACTION_IDS[ApprovalAction.DENY]
    assert approve["style"] == "primary"
    assert deny["style"] == "danger"
    assert "confirm" in approve
    now = T0 + timedelta(minutes=5)
    claim = SIGNER.verify(approve["value"], now=now, run_id="run-1", expected_action=ApprovalAction.APPROVE)
    assert claim.approval_id == "apr-1"
    assert claim.expires_at == PENDING.expires_at
    assert SIGNER.verify(deny["value"], now=now, run_id="run-1").action is ApprovalAction.DENY
    body = texts(message)
    assert "1/2 approvals (<@U0ALICE>)" in body
    assert "approvers: <@U0ALICE>, <@U0BOB>, <!subteam^S0SRE>" in body


def test_without_a_signer_no_buttons_are_drawn() -> None:
    message = render_incident(VIEW, signer=None)
    assert actions(message) == []
    assert "Approval needed" in texts(message)


@pytest.mark.parametrize(
    ("approval", "shown"),
    [
        pytest.param(
            replace(
                PENDING,
                state=ApprovalState.APPROVED,
                approvals=(
                    Vote("U0ALICE", T0 + timedelta(minutes=1)),
                    Vote("U0BOB", T0 + timedelta(minutes=2)),
                ),
            ),
            ["*Approved* by <@U0ALICE> at <!date^", "<@U0BOB> at <!date^", "2026-11-23 12:02 UTC"],
            id="approved",
        ),
        pytest.param(
            replace(
                PENDING,
                state=ApprovalState.DENIED,
                denial=Vote("U0BOB", T0 + timedelta(minutes=3), "not during the release"),
            ),
            ["*Denied* by <@U0BOB>", "12:03 UTC", "not during the release"],
            id="denied",
        ),
        pytest.param(
            replace(PENDING, state=ApprovalState.EXPIRED),
            ["*Approval expired* at", "12:30 UTC", "without a decision (1/2 approvals)"],
            id="expired",
        ),
    ],
)
def test_decision_replaces_the_buttons(approval: ApprovalView, shown: list[str]) -> None:
    message = render_incident(replace(VIEW, approval=approval), signer=SIGNER)
    assert actions(message) == []
    body = texts(message)
    for expected in shown:
        assert expected in body
    assert approval.state.value in message.text


def test_no_action_decision_and_no_proposal() -> None:
    view = replace(
        VIEW,
        proposal=None,
        approval=None,
        anomaly=AnomalyView(score=0.12, threshold=0.9, explanation=""),
        decision="no action: metric looks normal (score 0.12)",
        links=IncidentLinks(),
    )
    message = render_incident(view)
    body = texts(message)
    assert "0.12 (threshold 0.90, below threshold)" in body
    assert "no action: metric looks normal (score 0.12)" in body
    assert "Proposed runbook" not in body
    assert "Jira" not in body


def test_noop_plan_says_why() -> None:
    view = replace(
        VIEW, proposal=replace(PROPOSAL, plan=Plan(summary="Job is running", verdict="investigate"))
    )
    assert "No calls planned (investigate)" in texts(render_incident(view))


def test_outside_text_cannot_ping_and_secrets_are_masked() -> None:
    view = replace(
        VIEW,
        title="<!channel> disk full",
        summary="failed with token=xoxb-1234-abcd and <https://evil.example|click>",
        anomaly=AnomalyView(score=None, explanation="Authorization: Bearer abcdefghijklmnop"),
        links=IncidentLinks(jira_key="OPS-1", jira_url="javascript:alert(1)"),
    )
    message = render_incident(view, signer=SIGNER)
    body = texts(message) + message.text
    assert "<!channel>" not in message.text
    assert "&lt;!channel&gt;" in message.text
    assert "<https://evil.example" not in body
    assert "xoxb-1234" not in body
    assert "abcdefghijklmnop" not in body
    assert "javascript:" not in body
    assert "*Anomaly score* n/a" in body


def test_a_huge_plan_stays_within_limits() -> None:
    calls = [PlannedCall("aws.ecs", "UpdateService", {"n": i, "blob": "x" * 500}) for i in range(40)]
    view = replace(VIEW, title="T" * 400, proposal=replace(PROPOSAL, plan=Plan("big", calls=calls)))
    message = render_incident(view, signer=SIGNER)
    assert "… and 30 more calls" in texts(message)
    assert_within_slack_limits(message)


def test_repeat_notice_is_counted() -> None:
    message = render_repeat(RepeatView("INC-7", "HighCPU", 3, last_at=T0 + timedelta(minutes=9)))
    assert "`HighCPU` fired again (x3)" in texts(message)
    assert message.text == "HighCPU fired again (x3)"


def test_run_started_and_finished() -> None:
    started = RunView(
        "run-1",
        "aws.ecs.scale_service",
        "aws:ecs:service/prod/api",
        "U0ALICE",
        T0,
        approved_by=("U0BOB",),
        plan=PLAN,
    )
    body = texts(render_run(started))
    assert "Run started: `aws.ecs.scale_service` on `aws:ecs:service/prod/api`" in body
    assert "approved by <@U0BOB>" in body
    assert "2 → 4" in body

    finished = replace(
        started,
        result=RunResult.changed("scaled", desired_before=2, desired_after=4, api_key="hunter2"),
        finished_at=T0 + timedelta(seconds=95),
    )
    message = render_run(finished)
    body = texts(message)
    assert ":white_check_mark: Run changed" in body
    assert "desired_after: 4" in body
    assert "took 1m 35s" in body
    assert "hunter2" not in body
    assert message.text == "Run changed: aws.ecs.scale_service on aws:ecs:service/prod/api — scaled"

    failed = render_run(replace(finished, result=RunResult.failed("AccessDenied"), dry_run=True, attempt=2))
    assert ":x: Dry run failed" in texts(failed)
    assert "attempt 2" in texts(failed)


def test_verification_and_escalation() -> None:
    ok = render_verification(
        VerificationView("run-1", "rb", "aws:glue:job/x", VerifyStatus.SUCCEEDED, T0, "job RUNNING")
    )
    assert "*Verified*" in texts(ok)
    assert "job RUNNING" in texts(ok)
    bad = render_verification(VerificationView("run-1", "rb", "aws:glue:job/x", VerifyStatus.FAILED, T0))
    assert bad.text.startswith("Verification failed")
    esc = render_escalation(
        EscalationView(
            "INC-7", "PagerDuty: payments", "verification failed", T0, link="https://pd.example.com/i/1"
        )
    )
    assert "*Escalated* to <https://pd.example.com/i/1|PagerDuty: payments>: verification failed" in texts(
        esc
    )


def test_resolution_summary() -> None:
    view = ResolutionView(
        incident_id="INC-7",
        title="High CPU on prod/api",
        opened_at=T0,
        acknowledged_at=T0 + timedelta(minutes=4, seconds=30),
        acknowledged_by="U0ALICE",
        resolved_at=T0 + timedelta(hours=1, minutes=12),
        resolved_by="U0ALICE",
        fired=(FiredAlert("HighCPU", "critical", 4), FiredAlert("HighLatency", "warning")),
        runs=(
            RunSummary(
                "run-1",
                "aws.ecs.scale_service",
                "aws:ecs:service/prod/api",
                Outcome.CHANGED,
                approved_by=("U0BOB", "U0CAROL"),
            ),
            RunSummary("run-2", "aws.ecs.restart", "aws:ecs:service/prod/api", None, note="denied by U0BOB"),
        ),
    )
    message = render_resolution(view)
    body = texts(message)
    for expected in [
        "*Resolved* High CPU on prod/api by <@U0ALICE>",
        "*Time to acknowledge*\n4m 30s (by <@U0ALICE>)",
        "*Time to resolve*\n1h 12m",
        "*Approved by*\n<@U0BOB>, <@U0CAROL>",
        "`HighCPU` (critical) x4",
        "`HighLatency` (warning)",
        "`aws.ecs.scale_service` on `aws:ecs:service/prod/api`: :white_check_mark: changed",
        "`aws.ecs.restart` on `aws:ecs:service/prod/api`: did not run · denied by U0BOB",
    ]:
        assert expected in body, expected
    assert "time to resolve 1h 12m" in message.text

    bare = render_resolution(replace(view, acknowledged_at=None, acknowledged_by=None, runs=(), fired=()))
    body = texts(bare)
    assert "not acknowledged" in body
    assert "_no runbook ran_" in body
    assert "_no approvals needed_" in body


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        pytest.param(timedelta(0), "0s", id="zero"),
        pytest.param(timedelta(seconds=-5), "0s", id="negative"),
        pytest.param(timedelta(seconds=45), "45s", id="seconds"),
        pytest.param(timedelta(minutes=3), "3m", id="minutes"),
        pytest.param(timedelta(minutes=3, seconds=12), "3m 12s", id="minutes-seconds"),
        pytest.param(timedelta(hours=2, minutes=5, seconds=59), "2h 5m", id="hours-minutes"),
        pytest.param(timedelta(days=1, hours=3), "1d 3h", id="days-hours"),
        pytest.param(timedelta(days=2), "2d", id="days"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


@pytest.mark.parametrize(
    ("raw", "leak"),
    [
        pytest.param("token xoxb-123-456-abcDEF here", "xoxb-123"),
        pytest.param("xapp-1-A0-123-abc", "A0-123"),
        pytest.param("https://hooks.slack.com/services/T0/B0/secret", "T0/B0"),
        pytest.param("password=hunter2;", "hunter2"),
        pytest.param('{"client_secret": "s3cr3t"}', "s3cr3t"),
        pytest.param("AKIAABCDEFGHIJKLMNOP", "ABCDEFGHIJ"),
    ],
)
def test_redact(raw: str, leak: str) -> None:
    assert leak not in redact(raw)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(0.42, "0.42", id="plain"),
        pytest.param(0.996, "0.996", id="threshold-near-one"),
        pytest.param(0.9991, "0.9991", id="score-above-threshold-stays-distinct"),
        pytest.param(1.0, "1", id="one"),
    ],
)
def test_probabilities_near_one_keep_their_digits(value: float, shown: str) -> None:
    from bot.slack.blocks import probability

    assert probability(value) == shown
