"""A runtime wired to the fake Slack: a temp SQLite store, the test runbooks of tests/engine, and
`[slack]` / `[approvals]` settings every Slack wiring test shares."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from bot.audit import AuditEntry, list_audit
from bot.clock import utc_now
from bot.config.loader import parse_settings
from bot.runbook_kit.services import ServiceRegistry
from bot.runtime import Runtime, build_runtime
from bot.slack.wiring import SlackWiring
from bot.store.models import Alert, Incident
from tests.engine.conftest import TestSystem, make_registry
from tests.fakes.slack import FakeMessage, FakeSlack

SECRET = "test-signing-secret"
INCIDENTS = "C0INCIDENTS"  # default channel
PAYMENTS = "C0PAYMENTS"  # routed: service payments-*
RISKY = "test.risky"  # high risk, always asks; approvers below, quorum 2
BUMP = "test.bump"  # low risk, never asks

SLACK = {
    "default_channel": INCIDENTS,
    "routing": [{"match": {"service": "payments-*"}, "channel": PAYMENTS}],
}
# Alice is on call (responder); Mallory, Bob and the others are plain members (viewer), except
# that being named an approver makes Bob, Dave and Carol approvers.
PERMISSIONS = {"users": {"U0ALICE": "responder"}}
APPROVALS = {
    # Bob by name, Dave through the Slack user group S0SRE, Carol through the named group.
    "approvers": {RISKY: {"users": ["slack:U0BOB"], "groups": ["S0SRE", "leads"], "quorum": 2}},
    "groups": {"leads": ["U0CAROL"]},
}


def slack_env(monkeypatch: pytest.MonkeyPatch, fake: FakeSlack, *, socket: bool = False) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.bot_token)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    if socket:
        monkeypatch.setenv("SLACK_APP_TOKEN", fake.app_token)
        monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    else:
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
        monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)


class SettableClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def make_slack_runtime(
    data_dir: Path, *, clock: Callable[[], datetime] = utc_now, **overrides: Any
) -> tuple[Runtime, TestSystem]:
    raw: dict[str, Any] = {
        "data_dir": str(data_dir),
        "workers": {"threads": 1, "poll_interval_seconds": 0.02},
        "runbooks": {"verify_poll_seconds": 1, "verify_timeout_minutes": 5},
        "slack": SLACK,
        "approvals": APPROVALS,
        "permissions": PERMISSIONS,
    }
    raw.update(overrides)
    runtime = build_runtime(parse_settings(raw, {}), clock=clock)
    system = TestSystem()
    runtime.engine.deps.registry = make_registry()
    cast(ServiceRegistry, runtime.engine.deps.services).put(TestSystem, system)
    return runtime, system


@dataclass
class SlackRig:
    runtime: Runtime
    fake: FakeSlack
    system: TestSystem

    @property
    def wiring(self) -> SlackWiring:
        wiring = self.runtime.extras["slack"]
        assert isinstance(wiring, SlackWiring)
        return wiring

    def add_incident(
        self,
        *,
        service: str = "payments-api",
        title: str = "High CPU on prod/api",
        evidence: dict[str, Any] | None = None,
        severity: str = "critical",
    ) -> int:
        now = self.runtime.clock()
        with self.runtime.store.transaction() as session:
            incident = Incident(
                group_key=f"g-{title}-{service}",
                open_group_key=f"g-{title}-{service}",
                status="open",
                title=title,
                severity=severity,
                provider="aws",
                resource_type="ecs:service",
                resource_id="prod/api",
                opened_at=now,
                updated_at=now,
                alert_events=1,
                anomaly_status="ok",
                anomaly_score=0.97,
                anomaly_threshold=0.9,
                explanation="CPU 97% vs 41% typical",
                evidence=evidence or {},
                decision="needs_approval",
                decision_reason="risk high",
            )
            session.add(incident)
            session.flush()
            session.add(
                Alert(
                    source="cloudwatch",
                    fingerprint=f"fp-{incident.id}",
                    name="HighCPU",
                    status="firing",
                    severity=severity,
                    summary="CPU above 80% for 15 minutes",
                    resource={
                        "provider": "aws",
                        "region": "eu-west-1",
                        "type": "ecs:service",
                        "id": "prod/api",
                    },
                    metric={"namespace": "AWS/ECS", "name": "CPUUtilization", "threshold": 80.0},
                    labels={"service": service},
                    first_seen=now,
                    last_seen=now,
                    incident_id=incident.id,
                )
            )
            return incident.id

    def fire_again(self, incident_id: int) -> None:
        with self.runtime.store.transaction() as session:
            incident = session.get(Incident, incident_id)
            assert incident is not None
            incident.alert_events += 1
            for alert in session.query(Alert).filter(Alert.incident_id == incident_id):
                alert.deliveries += 1
                alert.last_seen = self.runtime.clock()

    def incident(self, incident_id: int) -> Incident:
        with self.runtime.store.sessions() as session:
            incident = session.get(Incident, incident_id)
            assert incident is not None
            return incident

    def audit(self, *, actor: str | None = None, action: str | None = None) -> list[AuditEntry]:
        with self.runtime.store.sessions() as session:
            entries = list_audit(session, limit=1000)
        return [
            e
            for e in entries
            if (actor is None or e.actor == actor) and (action is None or e.action == action)
        ]

    def drain(self, rounds: int = 30) -> None:
        for _ in range(rounds):
            if self.runtime.jobs.run_once("test-worker") == 0:
                return


def eventually(check: Callable[[], Any], *, timeout: float = 5.0) -> Any:
    """Poll `check` until it returns something truthy (work Bolt does after the ack, on its
    own threads, or jobs the workers pick up)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        time.sleep(0.01)


def button_value(message: FakeMessage, action_id: str) -> str:
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button in {message.blocks}")


def has_buttons(message: FakeMessage) -> bool:
    return any(block.get("type") == "actions" for block in message.blocks)


def text_of(message: FakeMessage) -> str:
    return "\n".join(message.block_texts())
