"""SlackReporter against the fake Slack Web API over a socket, on a real (SQLite) store.

Jobs are drained by hand with a settable clock, so every step is deterministic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bot.engine.approvals import Vote
from bot.engine.requests import RunRequest
from bot.incidents import service as incidents
from bot.slack.reporter import SlackReporter
from integrations.slack.settings import SlackSettings
from tests.fakes.slack import FakeSlack
from tests.http.conftest import make_runtime
from tests.slack.rig import (
    BUMP,
    INCIDENTS,
    PAYMENTS,
    RISKY,
    SettableClock,
    SlackRig,
    has_buttons,
    make_slack_runtime,
    slack_env,
    text_of,
)

EVIDENCE_POINTS = 30


def _evidence(clock: SettableClock) -> dict[str, object]:
    start = clock.now - timedelta(minutes=EVIDENCE_POINTS)
    values = [40.0 + (i % 3) for i in range(EVIDENCE_POINTS - 3)] + [95.0, 97.0, 96.0]
    return {
        "key": "AWS/ECS CPUUtilization prod/api",
        "unit": "%",
        "timestamps": [(start + timedelta(minutes=i)).isoformat() for i in range(EVIDENCE_POINTS)],
        "values": values,
        "scores": [0.2] * (EVIDENCE_POINTS - 3) + [0.95, 0.97, 0.96],
        "threshold": 0.9,
    }


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def rig(
    data_dir: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, clock: SettableClock
) -> Iterator[SlackRig]:
    slack_env(monkeypatch, fake_slack)
    runtime, system = make_slack_runtime(data_dir, clock=clock)
    yield SlackRig(runtime, fake_slack, system)
    runtime.store.dispose()


def _reporter(rig: SlackRig) -> SlackReporter:
    [reporter] = [r for r in rig.runtime.fanout.reporters if isinstance(r, SlackReporter)]
    return reporter


def test_parent_is_posted_once_in_the_routed_channel_and_updated_in_place(
    rig: SlackRig, clock: SettableClock
) -> None:
    incident_id = rig.add_incident(service="payments-api", evidence=_evidence(clock))
    reporter = _reporter(rig)

    reporter.incident_changed(incident_id, "opened")
    reporter.incident_changed(incident_id, "opened")  # a retried job
    reporter.incident_changed(incident_id, "decided")

    [parent] = rig.fake.messages(PAYMENTS)
    assert rig.fake.messages(INCIDENTS) == []
    stored = rig.incident(incident_id)
    assert (stored.slack_channel, stored.slack_ts) == (PAYMENTS, parent.ts)
    shown = text_of(parent)
    for part in (
        "High CPU on prod/api",
        "critical",
        "aws ecs:service prod/api (eu-west-1)",
        "0.97",
        "CPU 97%",
    ):
        assert part in shown
    assert len(rig.fake.history(PAYMENTS, parent.ts)) == 3  # posted, then chat.update twice
    [chart] = rig.fake.files(channel=PAYMENTS, thread_ts=parent.ts)  # once, into the thread
    assert chart.content is not None and chart.content.startswith(b"\x89PNG")


def test_no_chart_without_evidence(rig: SlackRig) -> None:
    incident_id = rig.add_incident(service="search")  # routed to the default channel
    _reporter(rig).incident_changed(incident_id, "opened")
    assert len(rig.fake.messages(INCIDENTS)) == 1
    assert rig.fake.api_calls("files.getUploadURLExternal") == []


def test_nothing_is_posted_when_no_channel_is_routed(rig: SlackRig) -> None:
    wiring = rig.wiring
    reporter = SlackReporter(
        store=rig.runtime.store,
        port=wiring.poster,
        slack=SlackSettings(),  # no routing, no default channel
        views=lambda: wiring.core.views,
        signer=wiring.signer,
        clock=rig.runtime.clock,
    )
    incident_id = rig.add_incident()
    reporter.incident_changed(incident_id, "opened")
    reporter.escalated(run_id=None, incident_id=incident_id, reason="nobody approved")
    assert rig.fake.api_calls("chat.postMessage") == []
    assert rig.incident(incident_id).slack_ts == ""


def test_repeats_are_counted_in_one_thread_message(rig: SlackRig) -> None:
    incident_id = rig.add_incident()
    reporter = _reporter(rig)
    reporter.incident_changed(incident_id, "opened")
    for _ in range(3):
        rig.fire_again(incident_id)
        reporter.incident_changed(incident_id, "updated")

    [parent] = rig.fake.messages(PAYMENTS)
    [repeat] = rig.fake.thread(PAYMENTS, parent.ts)
    assert "fired again (x3)" in repeat.text
    assert [v["text"] for v in rig.fake.history(PAYMENTS, repeat.ts)] == [
        "HighCPU fired again (x1)",
        "HighCPU fired again (x2)",
        "HighCPU fired again (x3)",
    ]
    assert "fired again (x3)" in text_of(rig.fake.latest(PAYMENTS, parent.ts))


def test_run_news_goes_into_the_incident_thread_and_the_buttons_go_after_the_decision(
    rig: SlackRig, clock: SettableClock
) -> None:
    incident_id = rig.add_incident()
    engine = rig.runtime.engine
    outcome = engine.request(
        RunRequest(RISKY, "jira:project/OPS", {"level": 3}, incident_id=incident_id, requested_by="rule:cpu")
    )
    assert outcome.approval_id is not None
    rig.drain()  # run.event awaiting_approval -> the parent is posted with the plan and buttons

    [parent] = rig.fake.messages(PAYMENTS)
    assert has_buttons(parent)
    shown = text_of(parent)
    assert "set jira:project/OPS to 3" in shown and "0/2 approvals" in shown
    assert "<@U0BOB>" in shown and "<!subteam^S0SRE>" in shown and "<@U0CAROL>" in shown

    grants = rig.runtime.grants
    engine.decide(outcome.approval_id, principal=grants.slack_user("U0BOB"), vote=Vote.APPROVE)
    rig.drain()
    assert "1/2 approvals (<@U0BOB>)" in text_of(rig.fake.latest(PAYMENTS, parent.ts))
    engine.decide(outcome.approval_id, principal=grants.slack_user("U0CAROL"), vote=Vote.APPROVE)
    rig.drain()  # approved -> execute -> running, verifying
    clock.advance(seconds=2)
    rig.drain()  # verify -> succeeded (the test runbook verifies; the incident is still open)

    latest = rig.fake.latest(PAYMENTS, parent.ts)
    assert not has_buttons(latest)
    assert "Approved* by <@U0BOB>" in text_of(latest)
    thread = [m.text for m in rig.fake.thread(PAYMENTS, parent.ts)]
    assert thread[0] == "Run started: test.risky on jira:project/OPS"
    assert thread[1].startswith("Run changed: test.risky on jira:project/OPS")
    assert rig.system.values == {"jira:project/OPS": 3}

    # Retried jobs never post twice.
    run_id = outcome.run_id
    assert run_id is not None
    _reporter(rig).run_changed(run_id, "running")
    _reporter(rig).run_changed(run_id, "verifying")
    assert len(rig.fake.thread(PAYMENTS, parent.ts)) == len(thread)


def test_resolution_summary(rig: SlackRig, clock: SettableClock) -> None:
    incident_id = rig.add_incident()
    reporter = _reporter(rig)
    reporter.incident_changed(incident_id, "opened")
    outcome = rig.runtime.engine.request(
        RunRequest(BUMP, "jira:project/OPS", {"level": 2}, incident_id=incident_id, requested_by="rule:cpu")
    )
    rig.drain()
    clock.advance(minutes=4)
    with rig.runtime.store.transaction() as session:
        incidents.acknowledge(session, incident_id, actor="slack:U0ALICE", now=clock())
    reporter.incident_changed(incident_id, "acknowledged")
    clock.advance(minutes=10)
    with rig.runtime.store.transaction() as session:
        incidents.resolve(session, incident_id, actor="slack:U0ALICE", now=clock())
    reporter.incident_changed(incident_id, "resolved")
    reporter.incident_changed(incident_id, "resolved")  # a retried job

    [parent] = rig.fake.messages(PAYMENTS)
    thread = rig.fake.thread(PAYMENTS, parent.ts)
    assert any(m.text == ":eyes: Acknowledged by <@U0ALICE>" for m in thread)
    [summary] = [m for m in thread if m.text.startswith("Resolved")]
    shown = text_of(summary)
    assert "*Time to acknowledge*\n4m (by <@U0ALICE>)" in shown
    assert "*Time to resolve*\n14m" in shown
    assert "`HighCPU` (critical)" in shown
    assert f"`{BUMP}` on `jira:project/OPS`" in shown
    assert outcome.run_id is not None
    assert ":white_check_mark: resolved" in text_of(rig.fake.latest(PAYMENTS, parent.ts))


def test_escalation_goes_into_the_thread_once(rig: SlackRig) -> None:
    incident_id = rig.add_incident()
    reporter = _reporter(rig)
    reporter.escalated(run_id=None, incident_id=incident_id, reason="verification failed after restart")
    reporter.escalated(run_id=None, incident_id=incident_id, reason="verification failed after restart")
    [parent] = rig.fake.messages(PAYMENTS)
    [escalation] = rig.fake.thread(PAYMENTS, parent.ts)
    assert escalation.text == "Escalated to on-call: verification failed after restart"


def test_a_run_without_an_incident_gets_its_own_parent(rig: SlackRig) -> None:
    outcome = rig.runtime.engine.request(
        RunRequest(RISKY, "jira:project/OPS", {"level": 5}, requested_by="slack:U0ALICE", manual=True)
    )
    rig.drain()
    [parent] = rig.fake.messages(INCIDENTS)
    assert has_buttons(parent)
    assert f"or `/conductor approve {outcome.run_id}`" in text_of(parent)
    assert parent.text.endswith("approval needed (0/2)")


def test_slack_off_registers_nothing(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    with capture_logs() as logs:
        runtime = make_runtime(data_dir)
    try:
        assert "slack" not in runtime.extras
        assert not any(isinstance(r, SlackReporter) for r in runtime.fanout.reporters)
        assert runtime.http_extensions == []
        said = [e["event"] for e in logs if e["event"].startswith("slack: off")]
        assert said == ["slack: off ($SLACK_BOT_TOKEN is not set)"]
    finally:
        runtime.store.dispose()


def test_a_refused_token_turns_slack_off_without_stopping_the_server(
    data_dir: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    slack_env(monkeypatch, fake_slack)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
    with capture_logs() as logs:
        runtime = make_runtime(data_dir)
    try:
        assert "slack" not in runtime.extras
        assert any(e["event"].startswith("slack: off (the bot token was refused") for e in logs)
    finally:
        runtime.store.dispose()


def test_expiry_replaces_the_buttons_and_the_escalation_goes_into_the_thread(
    rig: SlackRig, clock: SettableClock
) -> None:
    incident_id = rig.add_incident()
    rig.runtime.engine.request(
        RunRequest(RISKY, "jira:project/OPS", {"level": 3}, incident_id=incident_id, requested_by="rule:cpu")
    )
    rig.drain()
    [parent] = rig.fake.messages(PAYMENTS)
    assert has_buttons(parent)

    clock.advance(minutes=31)  # past [approvals] expiry_minutes (30)
    rig.drain()  # approval.expire -> run expired -> run.event + escalate

    latest = rig.fake.latest(PAYMENTS, parent.ts)
    assert not has_buttons(latest)
    assert "*Approval expired*" in text_of(latest)
    [escalation] = rig.fake.thread(PAYMENTS, parent.ts)
    assert escalation.text == "Escalated to on-call: approval expired: nobody approved in time"


def test_resolving_cancels_the_pending_approval_in_place(rig: SlackRig, clock: SettableClock) -> None:
    incident_id = rig.add_incident()
    rig.runtime.engine.request(
        RunRequest(RISKY, "jira:project/OPS", {"level": 3}, incident_id=incident_id, requested_by="rule:cpu")
    )
    rig.drain()
    [parent] = rig.fake.messages(PAYMENTS)
    with rig.runtime.store.transaction() as session:
        incidents.resolve(session, incident_id, actor="slack:U0ALICE", now=clock())
    rig.drain()  # incident.event resolved -> the pipeline cancels the run -> run.event cancelled

    latest = rig.fake.latest(PAYMENTS, parent.ts)
    assert not has_buttons(latest)
    assert "*Approval cancelled*" in text_of(latest)
    texts = [m.text for m in rig.fake.thread(PAYMENTS, parent.ts)]
    assert any(t.startswith("Resolved High CPU on prod/api") for t in texts)
    assert any(t.startswith(":heavy_minus_sign: Cancelled `test.risky`") for t in texts)
