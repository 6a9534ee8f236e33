"""Print the Slack incident message of scenario 3 as rendered by Conductor's own Block Kit
renderers, laid out as text (README "What happens when an alarm fires" shows the output).

    .venv/bin/python docs/examples/slack_layout.py
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.runbook_kit.spec import Plan, PlannedCall, Risk
from bot.slack.blocks import render_incident
from bot.slack.signing import ActionSigner
from bot.slack.views import (
    AlertCounts,
    AnomalyView,
    ApprovalState,
    ApprovalView,
    IncidentLinks,
    IncidentView,
    ProposalView,
)

OPENED = datetime(2026, 11, 23, 3, 2, tzinfo=UTC)


def scenario_3() -> IncidentView:
    plan = Plan(
        summary="restart shop-web: 17 out-of-memory errors in the last 10 minutes (>= 3)",
        calls=[
            PlannedCall(
                "azure.web", "WebApps.Restart", {"name": "shop-web"}, "Running", "Running (restarted)"
            )
        ],
        findings={
            "top_errors": [
                "System.OutOfMemoryException: Insufficient memory (17)",
                "System.TimeoutException: upstream (4)",
            ]
        },
    )
    return IncidentView(
        id="42",
        title="shop-web-http5xx on shop-web",
        severity="error",
        status="open",
        resource="azure web:site 5b1d…/shop-prod/shop-web",
        source="azure",
        opened_at=OPENED,
        counts=AlertCounts(firing=1),
        summary="More than 50 HTTP 5xx responses in 5 minutes",
        anomaly=AnomalyView(
            0.99991,
            0.999,
            "15-min mean 6.3 sigma above its 7-day baseline; 1-hour variance x5.2 its 1-day level",
        ),
        proposal=ProposalView(
            "azure.appservice.restart",
            "Restart an App Service after diagnosis",
            "azure:web:site/5b1d…/shop-prod/shop-web",
            Risk.MEDIUM,
            plan,
        ),
        approval=ApprovalView(
            "7",
            "12",
            ApprovalState.PENDING,
            OPENED + timedelta(minutes=30),
            approver_users=("U0APPROVER",),
            requested_by="rule:restart failing App Services",
        ),
        decision="needs_approval: risk medium needs approval (policy: when risk >= medium)",
        links=IncidentLinks(jira_key="OPS-101", jira_url="https://example.atlassian.net/browse/OPS-101"),
    )


def text_of(element: dict[str, Any]) -> str:
    text = element.get("text")
    if isinstance(text, dict):
        return str(text.get("text", ""))
    return str(text or "")


def layout(blocks: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"## {text_of(block)}")
        elif kind == "section":
            if block.get("text"):
                lines.append(text_of(block))
            for field in block.get("fields", []):
                lines.append("  " + text_of(field).replace("\n", ": ", 1))
        elif kind == "context":
            lines.append("  " + " · ".join(text_of(e) for e in block.get("elements", [])))
        elif kind == "actions":
            lines.append("  " + "  ".join(f"[ {text_of(e)} ]" for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("  ─────")
    return "\n".join(lines)


if __name__ == "__main__":
    message = render_incident(scenario_3(), signer=ActionSigner(b"example-secret"))
    print(html.unescape(layout(list(message.blocks))))
