"""The policies through the engine on a real store (both backends): freezes, suggest and approve
modes, circuit breakers and blast-radius caps."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.audit import list_audit
from bot.engine.gate import Decision
from bot.engine.requests import RunRequest
from bot.errors import InvalidTransition, NotFound
from bot.policies.circuits import list_circuits, resume
from bot.policies.freeze_input import freeze_from_options
from bot.policies.freezes import add_freeze
from bot.runbook_kit.spec import VerifyStatus
from bot.store.db import Store
from bot.store.models import Job, RunbookRun
from tests.engine.conftest import EngineRig, make_rig

APPROVERS = {"approvers": {"risk:low": {"users": ["alice"]}, "risk:high": {"users": ["alice"]}}}


def auto(target: str = "jira:project/A", *, runbook: str = "test.bump", **kw: Any) -> RunRequest:
    return RunRequest(runbook, target, {"level": 2}, requested_by="rule:r", rule="r", **kw)


def status_of(rig: EngineRig, run_id: int | None) -> str:
    assert run_id is not None
    with rig.store.sessions() as session:
        run = session.get(RunbookRun, run_id)
        assert run is not None
        return run.status


def freeze(rig: EngineRig, name: str, *matchers: str, block: bool = False) -> int:
    declared = freeze_from_options(name=name, matchers=matchers, now=rig.clock(), duration="2h", block=block)
    with rig.store.transaction() as session:
        return add_freeze(session, declared, created_by="cli:ana", origin="cli", now=rig.clock()).id


@pytest.fixture
def rig(store: Store) -> EngineRig:
    made = make_rig(store, approvals=APPROVERS)
    made.jobs.register("circuit.event", lambda job: None)
    return made


def test_a_freeze_turns_an_automatic_run_into_an_approval_naming_it(rig: EngineRig) -> None:
    freeze_id = freeze(rig, "release freeze", "runbook=test.bump")
    outcome = rig.engine.request(auto())
    assert outcome.decision is Decision.NEEDS_APPROVAL
    assert outcome.status == "awaiting_approval"
    assert outcome.reason.startswith(f'change freeze "release freeze" (#{freeze_id}, until ')
    rig.drain()
    assert rig.system.calls == []
    with rig.store.sessions() as session:
        run = session.get(RunbookRun, outcome.run_id)
        assert run is not None and run.policy == {"reason": "change_freeze", "freeze": freeze_id}
        [planned] = [
            r for r in list_audit(session, subject=f"run:{outcome.run_id}") if r.action == "run.planned"
        ]
    assert "release freeze" in planned.details["gate_reason"]


def test_a_blocking_freeze_stops_automatic_runs_but_not_people(rig: EngineRig) -> None:
    freeze(rig, "peak sale", block=True)
    blocked = rig.engine.request(auto())
    assert blocked.decision is Decision.NO_ACTION and blocked.run_id is None
    assert "peak sale" in blocked.reason and "blocks automatic runs" in blocked.reason
    manual = rig.engine.request(
        RunRequest("test.bump", "jira:project/A", {"level": 2}, requested_by="cli:ana", manual=True)
    )
    assert manual.status == "approved"


def test_a_freeze_on_another_scope_changes_nothing(rig: EngineRig) -> None:
    freeze(rig, "orders only", "service=orders")
    outcome = rig.engine.request(auto(service="billing"))
    assert outcome.status == "approved"


def test_approve_mode_always_asks(rig: EngineRig) -> None:
    outcome = rig.engine.request(auto(mode="approve"))
    assert outcome.status == "awaiting_approval"
    assert outcome.reason == 'approve mode: rule "r" asks a human before every run'


def test_suggest_mode_never_acts_and_run_it_runs_once(rig: EngineRig) -> None:
    suggested = rig.engine.request(auto(mode="suggest"))
    assert suggested.decision is Decision.SUGGEST and suggested.status == "suggested"
    assert suggested.plan is not None and suggested.plan.calls
    rig.drain()
    assert rig.system.calls == []
    assert suggested.run_id is not None

    taken = rig.engine.run_suggestion(suggested.run_id, requested_by="slack:U1")
    assert taken.status == "approved" and taken.run_id != suggested.run_id
    rig.drain()
    assert rig.system.calls == ["set jira:project/A=2"]
    with pytest.raises(InvalidTransition, match="already run as run"):
        rig.engine.run_suggestion(suggested.run_id, requested_by="slack:U2")
    with pytest.raises(InvalidTransition, match="not a suggestion"):
        rig.engine.run_suggestion(taken.run_id or 0, requested_by="slack:U2")
    with pytest.raises(NotFound):
        rig.engine.run_suggestion(9999, requested_by="slack:U2")
    with rig.store.sessions() as session:
        taken_run = session.get(RunbookRun, taken.run_id)
        assert taken_run is not None
        assert taken_run.requested_by == "slack:U1" and taken_run.policy == {
            "from_suggestion": suggested.run_id
        }


def _ineffective_runs(rig: EngineRig, targets: list[str]) -> list[int]:
    rig.system.verify_status = VerifyStatus.FAILED
    ids = []
    for target in targets:
        outcome = rig.engine.request(auto(target, service="orders"))
        assert outcome.status == "approved", outcome.reason
        ids.append(outcome.run_id or 0)
        rig.drain()
        rig.clock.advance(seconds=31)
        rig.drain()
    return ids


def test_the_circuit_opens_after_repeated_ineffective_runs_and_closes_on_resume(rig: EngineRig) -> None:
    ids = _ineffective_runs(rig, ["jira:project/A", "jira:project/B", "jira:project/C"])
    assert [status_of(rig, i) for i in ids] == ["ineffective"] * 3
    with rig.store.sessions() as session:
        scopes = sorted(c.scope for c in list_circuits(session, now=rig.clock()))
        events = list(session.scalars(select(Job.payload).where(Job.kind == "circuit.event")))
    assert scopes == ["runbook:test.bump", "service:orders"]
    assert len(events) == 2  # Slack and PagerDuty are told through this job

    paused = rig.engine.request(auto("jira:project/D"))
    assert paused.decision is Decision.NO_ACTION and paused.reason.startswith(
        "circuit open: runbook:test.bump"
    )
    other_service = rig.engine.request(auto("jira:project/E", runbook="test.slow", service="orders"))
    assert other_service.reason.startswith("circuit open: service:orders")

    with rig.store.transaction() as session:
        closed = resume(session, "test.bump", actor="cli:ana", now=rig.clock())
        resume(session, "service:orders", actor="cli:ana", now=rig.clock())
    assert [c.scope for c in closed] == ["runbook:test.bump"]
    rig.system.verify_status = VerifyStatus.SUCCEEDED
    again = rig.engine.request(auto("jira:project/D"))
    assert again.status == "approved"
    with rig.store.sessions() as session:
        audited = {r.action for r in list_audit(session, limit=500)}
    assert {"circuit.opened", "circuit.closed"} <= audited


def test_one_more_bad_run_after_resume_does_not_reopen_at_once(rig: EngineRig) -> None:
    _ineffective_runs(rig, ["jira:project/A", "jira:project/B", "jira:project/C"])
    with rig.store.transaction() as session:
        resume(session, "test.bump", actor="cli:ana", now=rig.clock())
        resume(session, "service:orders", actor="cli:ana", now=rig.clock())
    _ineffective_runs(rig, ["jira:project/D"])
    with rig.store.sessions() as session:
        assert list_circuits(session, now=rig.clock()) == []


def test_an_expiring_circuit_closes_by_itself(store: Store) -> None:
    rig = make_rig(
        store,
        approvals=APPROVERS,
        circuit_breaker={"max_bad_runs": 2, "expiry_minutes": 30, "scopes": ["runbook"]},
    )
    rig.jobs.register("circuit.event", lambda job: None)
    _ineffective_runs(rig, ["jira:project/A", "jira:project/B"])
    assert rig.engine.request(auto("jira:project/C")).reason.startswith("circuit open")
    rig.clock.advance(minutes=31)
    rig.system.verify_status = VerifyStatus.SUCCEEDED
    assert rig.engine.request(auto("jira:project/C")).status == "approved"
    with store.sessions() as session, pytest.raises(NotFound):
        resume(session, "test.bump", actor="x", now=rig.clock())


def test_a_cap_queues_a_run_visibly_until_a_slot_frees(store: Store) -> None:
    rig = make_rig(store, approvals=APPROVERS, caps={"max_concurrent_per_runbook": 1})
    rig.system.verify_status = VerifyStatus.PENDING  # the first run stays in flight (verifying)
    first = rig.engine.request(auto("jira:project/A"))
    rig.drain()
    assert status_of(rig, first.run_id) == "verifying"
    second = rig.engine.request(auto("jira:project/B"))
    rig.drain()
    assert status_of(rig, second.run_id) == "queued"
    assert rig.system.calls == ["set jira:project/A=2"]
    with store.sessions() as session:
        queued = session.get(RunbookRun, second.run_id)
        assert queued is not None
        assert queued.reason == "queued: cap: 1 of 1 runs of test.bump in flight"
        assert queued.policy["reason"] == "cap_queued"

    rig.system.verify_status = VerifyStatus.SUCCEEDED
    rig.clock.advance(seconds=31)
    rig.drain()
    assert status_of(rig, first.run_id) == "succeeded"
    assert rig.system.calls == ["set jira:project/A=2", "set jira:project/B=2"]


def test_a_queued_run_that_waits_too_long_is_cancelled_and_escalated(store: Store) -> None:
    rig = make_rig(store, approvals=APPROVERS, caps={"max_concurrent": 1, "queue_timeout_minutes": 10})
    rig.system.verify_status = VerifyStatus.PENDING
    rig.engine.request(auto("jira:project/A"))
    rig.drain()
    second = rig.engine.request(auto("jira:project/B"))
    rig.drain()
    rig.clock.advance(minutes=11)
    rig.drain()
    assert status_of(rig, second.run_id) == "cancelled"
    with store.sessions() as session:
        escalations = list(session.scalars(select(Job.payload).where(Job.kind == "escalate")))
    assert any(p.get("run_id") == second.run_id and "cap slot" in p["reason"] for p in escalations)


def test_distinct_targets_per_hour(store: Store) -> None:
    rig = make_rig(
        store,
        approvals=APPROVERS,
        caps={"runbooks": {"test.bump": {"max_targets_per_hour": 2}}, "queue_timeout_minutes": 120},
    )
    for target in ("jira:project/A", "jira:project/B"):
        rig.engine.request(auto(target))
        rig.drain()
        rig.clock.advance(seconds=31)
        rig.drain()
    third = rig.engine.request(auto("jira:project/C"))
    rig.drain()
    assert status_of(rig, third.run_id) == "queued"
    again_a = rig.engine.request(auto("jira:project/A", mode="auto"))
    rig.drain()
    assert status_of(rig, again_a.run_id) != "queued"  # a target already changed this hour fits
    rig.clock.advance(minutes=61)
    rig.engine.dequeue()
    rig.drain()
    assert status_of(rig, third.run_id) in ("verifying", "succeeded")


def test_a_cap_can_ask_for_approval_instead_and_the_approval_lets_it_exceed(store: Store) -> None:
    rig = make_rig(store, approvals=APPROVERS, caps={"max_concurrent": 1, "on_exceed": "approval"})
    rig.system.verify_status = VerifyStatus.PENDING
    rig.engine.request(auto("jira:project/A"))
    rig.drain()
    second = rig.engine.request(auto("jira:project/B"))
    assert second.status == "awaiting_approval"
    assert second.reason == "cap: 1 of 1 runs in flight overall; a human may let it exceed the cap"
    from bot.engine.approvals import Vote

    rig.engine.decide(second.approval_id or 0, principal=rig.who("alice"), vote=Vote.APPROVE)
    rig.drain()
    assert status_of(rig, second.run_id) == "verifying"
