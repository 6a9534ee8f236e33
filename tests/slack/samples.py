"""Views shared by the Slack tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.runbook_kit.spec import Plan, PlannedCall, Risk
from bot.slack.signing import ActionSigner
from bot.slack.views import (
    AlertCounts,
    AnomalyView,
    ApprovalState,
    ApprovalView,
    IncidentLinks,
    IncidentView,
    ProposalView,
    Vote,
)
from integrations.slack.wire import SlackMessage

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SIGNER = ActionSigner(b"k" * 32)
PLAN = Plan(
    summary="Scale prod/api from 2 to 4 tasks",
    calls=[
        PlannedCall(
            system="aws.ecs",
            operation="UpdateService",
            params={"cluster": "prod", "service": "api"},
            before=2,
            after=4,
            description="double the tasks",
        )
    ],
)
PROPOSAL = ProposalView(
    "aws.ecs.scale_service", "Scale an ECS service", "aws:ecs:service/prod/api", Risk.MEDIUM, PLAN
)
PENDING = ApprovalView(
    approval_id="apr-1",
    run_id="run-1",
    state=ApprovalState.PENDING,
    expires_at=T0 + timedelta(minutes=30),
    quorum=2,
    approvals=(Vote("U0ALICE", T0 + timedelta(minutes=1)),),
    approver_users=("U0ALICE", "U0BOB"),
    approver_groups=("S0SRE",),
)
VIEW = IncidentView(
    id="INC-7",
    title="High CPU on prod/api",
    severity="critical",
    status="open",
    resource="aws ecs service prod/api (eu-west-1)",
    source="cloudwatch",
    opened_at=T0,
    counts=AlertCounts(firing=2, resolved=1, repeats=3),
    anomaly=AnomalyView(score=0.97, threshold=0.9, explanation="CPU 97% vs 41% typical"),
    proposal=PROPOSAL,
    approval=PENDING,
    decision="approval needed: risk medium >= medium",
    links=IncidentLinks(
        jira_key="OPS-12",
        jira_url="https://jira.example.com/browse/OPS-12",
        pagerduty_id="PD1",
        pagerduty_url="https://pd.example.com/incidents/PD1",
    ),
)


def texts(message: SlackMessage) -> str:
    """All visible text of the blocks, joined."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks)
    return "\n".join(found)
