"""The run engine on SQLite and PostgreSQL: locks, budgets, approvals, verification, crash recovery."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from sqlalchemy import select

from bot.audit import list_audit
from bot.engine.approvals import Vote
from bot.engine.engine import Engine
from bot.engine.requests import BlockedBy, RunRequest
from bot.errors import AlreadyDecided, ApprovalExpired, ApproverNotAllowed, IntegrationError
from bot.store.db import Store
from bot.store.models import Approval, Incident, Job, RunbookRun
from tests.engine.conftest import EngineRig, make_rig

TARGET = "jira:project/OPS"


def runs(rig: EngineRig) -> list[RunbookRun]:
    with rig.store.sessions() as session:
        return list(session.scalars(select(RunbookRun).order_by(RunbookRun.id)))


def jobs_of(rig: EngineRig, kind: str) -> list[Job]:
    with rig.store.sessions() as session:
        return list(session.scalars(select(Job).where(Job.kind == kind)))


def actions(rig: EngineRig, subject: str) -> list[str]:
    with rig.store.sessions() as session:
        return [e.action for e in list_audit(session, subject=subject, limit=200)]


def test_low_risk_run_goes_through_every_state_and_is_audited(rig: EngineRig) -> None:
    outcome = rig.engine.request(RunRequest("test.bump", TARGET, {"level": 3}))
    assert outcome.status == "approved" and outcome.approval_id is None
    rig.drain()
    assert rig.system.calls == [f"set {TARGET}=3"]
    [run] = runs(rig)
    assert run.status == "verifying"
    rig.clock.advance(seconds=31)
    rig.drain()
    [run] = runs(rig)
    assert run.status == "succeeded" and run.active_target is None
    assert actions(rig, f"run:{run.id}") == [
        "run.planned",
        "run.approved",
        "run.running",
        "run.verifying",
        "run.succeeded",
    ]


def test_dry_run_plan_changes_nothing(rig: EngineRig) -> None:
    plan = rig.engine.preview("test.bump", TARGET, {"level": 5})
    assert plan.calls[0].before == 0 and plan.calls[0].after == 5
    assert rig.system.calls == [] and runs(rig) == []


def test_two_simultaneous_triggers_for_one_target_produce_one_run(rig: EngineRig) -> None:
    barrier = threading.Barrier(4)
    outcomes = []

    def trigger() -> None:
        barrier.wait()
        outcomes.append(rig.engine.request(RunRequest("test.bump", TARGET, {"level": 2})))

    threads = [threading.Thread(target=trigger) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.status or "" for o in outcomes) == ["approved", "rejected", "rejected", "rejected"]
    assert all(o.blocked is BlockedBy.LOCK for o in outcomes if o.status == "rejected")
    rig.drain()
    assert rig.system.calls == [f"set {TARGET}=2"]


def test_exhausted_budget_is_recorded_and_escalates(rig: EngineRig) -> None:
    for level in (1, 2):
        rig.engine.request(RunRequest("test.bump", TARGET, {"level": level}))
        rig.drain()
        rig.clock.advance(seconds=31)
        rig.drain()
    third = rig.engine.request(RunRequest("test.bump", TARGET, {"level": 3}))
    assert third.status == "rejected" and third.blocked is BlockedBy.BUDGET
    assert "2 of 2 runs" in third.reason
    assert [j.payload["run_id"] for j in jobs_of(rig, "escalate")] == [third.run_id]
    assert "run.escalated" in actions(rig, f"run:{third.run_id}")
    assert rig.system.calls == [f"set {TARGET}=1", f"set {TARGET}=2"]
    # the window slides: an hour later the budget is back
    rig.clock.advance(hours=1)
    assert rig.engine.request(RunRequest("test.bump", TARGET, {"level": 4})).status == "approved"


@pytest.mark.parametrize("retryable", [True, False], ids=["retryable", "permanent"])
def test_the_engine_never_repeats_a_failed_action(rig: EngineRig, retryable: bool) -> None:
    """Retries belong to the client of each outside call (one layer, docs/retries.md): a failure
    that reaches the engine is the run's result, escalated, never a second call."""
    rig.system.failures = [IntegrationError("throttled", retryable=retryable)]
    outcome = rig.engine.request(RunRequest("test.bump", TARGET, {"level": 2}))
    rig.drain()
    [run] = runs(rig)
    assert run.id == outcome.run_id and run.status == "failed" and "throttled" in run.reason
    assert run.attempts == 1 and run.result["details"] == {"retryable": retryable}
    assert rig.system.calls == []  # the one attempt raised before changing anything; none followed
    assert [j.payload["run_id"] for j in jobs_of(rig, "escalate")] == [run.id]


def test_non_approver_cannot_approve_and_changes_nothing(rig: EngineRig) -> None:
    outcome = rig.engine.request(RunRequest("test.risky", TARGET, {"level": 9}, requested_by="alice"))
    assert outcome.status == "awaiting_approval" and outcome.approval_id is not None
    approval_id = outcome.approval_id
    with pytest.raises(ApproverNotAllowed):
        rig.engine.decide(approval_id, principal=rig.who("mallory"), vote=Vote.APPROVE)
    with pytest.raises(ApproverNotAllowed, match="requested this run"):
        rig.engine.decide(approval_id, principal=rig.who("alice"), vote=Vote.APPROVE)
    [run] = runs(rig)
    assert run.status == "awaiting_approval"
    assert actions(rig, f"approval:{approval_id}").count("approval.refused") == 2
    # quorum 2: bob, then carol (through the sre group)
    first = rig.engine.decide(approval_id, principal=rig.who("bob"), vote=Vote.APPROVE)
    assert (first.approval_status, first.approvals, first.quorum) == ("pending", 1, 2)
    with pytest.raises(AlreadyDecided):
        rig.engine.decide(approval_id, principal=rig.who("bob"), vote=Vote.APPROVE)
    second = rig.engine.decide(approval_id, principal=rig.who("carol"), vote=Vote.APPROVE)
    assert second.approval_status == "approved" and second.run_status == "approved"
    rig.drain()
    assert rig.system.calls == [f"set {TARGET}=9"]
    with pytest.raises(AlreadyDecided):
        rig.engine.decide(approval_id, principal=rig.who("alice"), vote=Vote.DENY)


def test_with_nobody_configured_to_approve_the_request_is_refused_at_once(store: Store) -> None:
    """Finding 5: with no [approvals.approvers] anyone but the requester could approve. Now the
    approval request itself is refused (fail closed), recorded and escalated."""
    bare = make_rig(store)
    outcome = bare.engine.request(RunRequest("test.risky", TARGET, {"level": 9}, requested_by="alice"))
    assert (outcome.status, outcome.blocked, outcome.approval_id) == (
        "rejected",
        BlockedBy.NO_APPROVERS,
        None,
    )
    assert "nobody is configured to approve test.risky" in outcome.reason
    with store.sessions() as session:
        assert session.scalars(select(Approval)).all() == []
    assert [j.payload["run_id"] for j in jobs_of(bare, "escalate")] == [outcome.run_id]


def test_a_pending_approval_whose_approvers_were_removed_cannot_be_approved(rig: EngineRig) -> None:
    outcome = rig.engine.request(RunRequest("test.risky", TARGET, {"level": 9}, requested_by="alice"))
    assert outcome.approval_id is not None
    bare = make_rig(rig.store)  # the config changed: nobody is an approver any more
    with pytest.raises(ApproverNotAllowed, match="nobody is configured to approve") as refused:
        bare.engine.decide(outcome.approval_id, principal=rig.who("bob"), vote=Vote.APPROVE)
    assert refused.value.reason == "no_approvers_configured"
    assert runs(rig)[0].status == "awaiting_approval"


def test_denial_rejects_the_run(rig: EngineRig) -> None:
    outcome = rig.engine.request(RunRequest("test.risky", TARGET, {"level": 9}, requested_by="carol"))
    assert outcome.approval_id is not None
    decided = rig.engine.decide(
        outcome.approval_id, principal=rig.who("bob"), vote=Vote.DENY, reason="not at peak"
    )
    assert decided.run_status == "rejected"
    [run] = runs(rig)
    assert run.reason == "denied by bob: not at peak" and run.active_target is None
    rig.drain()
    assert rig.system.calls == []


def test_expired_approval_marks_the_run_expired_and_escalates(rig: EngineRig) -> None:
    outcome = rig.engine.request(RunRequest("test.risky", TARGET, {"level": 9}, requested_by="carol"))
    assert outcome.approval_id is not None
    rig.drain()  # the expiry job is not due yet
    assert runs(rig)[0].status == "awaiting_approval"
    rig.clock.advance(minutes=31)
    with pytest.raises(ApprovalExpired):
        rig.engine.decide(outcome.approval_id, principal=rig.who("bob"), vote=Vote.APPROVE)
    rig.drain()
    [run] = runs(rig)
    assert run.status == "expired" and run.active_target is None
    with rig.store.sessions() as session:
        assert session.get(Approval, outcome.approval_id).status == "expired"  # type: ignore[union-attr]
    assert [j.payload["run_id"] for j in jobs_of(rig, "escalate")] == [run.id]
    assert rig.system.calls == []


def test_crash_after_the_call_is_reconciled_not_repeated(rig: EngineRig) -> None:
    rig.system.crash_after_call = True
    outcome = rig.engine.request(RunRequest("test.bump", TARGET, {"level": 7}))
    with pytest.raises(KeyboardInterrupt):
        rig.drain()
    [run] = runs(rig)
    assert run.status == "running" and run.in_flight == "acting"
    # "restart": the dead worker's claim runs out; reconciliation looks at the target first
    rig.system.crash_after_call = False
    rig.clock.advance(hours=1)
    assert rig.engine.executor.reconcile_interrupted() == 1
    rig.drain()
    [run] = runs(rig)
    assert run.id == outcome.run_id and run.status == "verifying"
    assert rig.system.calls == [f"set {TARGET}=7"]  # called once, never repeated
    assert "reconciled" in run.reason


def test_a_timed_out_action_keeps_the_target_locked_until_it_really_ends(rig: EngineRig) -> None:
    """Finding 10: the action thread outlives its timeout; until it ends nothing else may act on
    the target, and what it did late still counts."""
    rig.engine.request(RunRequest("test.slow", TARGET, {"level": 5}))
    rig.drain()  # executes: 50 ms later the action is abandoned, still running
    [run] = runs(rig)
    assert (run.status, run.active_target, run.in_flight) == ("unknown", TARGET, "abandoned")
    assert "stays locked until it ends" in run.reason
    assert [j.payload["run_id"] for j in jobs_of(rig, "escalate")] == [run.id]

    second = rig.engine.request(RunRequest("test.bump", TARGET, {"level": 9}))
    assert second.status == "rejected" and second.blocked is BlockedBy.LOCK
    rig.drain()
    assert rig.system.calls == []  # nothing ran beside the abandoned action

    rig.system.release.set()  # the abandoned action finishes, late
    assert rig.engine.executor.abandoned.join(timeout=10)
    first = next(r for r in runs(rig) if r.id == run.id)
    assert (first.status, first.active_target) == ("timed_out", None)
    assert first.result["outcome"] == "changed" and first.acted_at is not None
    assert rig.system.calls == [f"set {TARGET}=5"]
    assert actions(rig, f"run:{run.id}")[-3:] == ["run.unknown", "run.escalated", "run.timed_out"]
    assert rig.engine.request(RunRequest("test.bump", "jira:project/WEB", {"level": 1})).status == "approved"
    assert rig.engine.request(RunRequest("test.bump", TARGET, {"level": 9})).status == "approved"


def test_a_timed_out_action_whose_process_died_is_reconciled_before_the_target_is_freed(
    rig: EngineRig,
) -> None:
    rig.engine.request(RunRequest("test.slow", TARGET, {"level": 5}))
    rig.drain()
    [run] = runs(rig)
    assert run.status == "unknown"
    # claimed as host:pid, so that a restart on this host releases it at once (bot.claims)
    assert run.claimed_by == f"{socket.gethostname()}:{os.getpid()}/abandoned"
    rig.clock.advance(hours=1)  # its claim is no longer renewed...
    assert rig.engine.executor.reconcile_interrupted() == 0  # ...but the action runs in this process
    # "restart": a new process has no such thread; reconciliation looks at the target first
    restarted = Engine(rig.engine.deps)
    assert restarted.executor.reconcile_interrupted() == 1
    [run] = runs(rig)
    assert (run.status, run.active_target) == ("timed_out", None)
    assert "reconciliation: not_applied" in run.reason
    rig.system.release.set()
    assert rig.engine.executor.abandoned.join(timeout=10)
    assert runs(rig)[0].status == "timed_out"  # settled once; the late end changes nothing more


def test_crash_before_the_call_runs_it_after_restart(rig: EngineRig) -> None:
    rig.engine.request(RunRequest("test.bump", TARGET, {"level": 7}))
    rig.system.failures = [KeyboardInterrupt("died before the call")]  # type: ignore[list-item]
    with pytest.raises(KeyboardInterrupt):
        rig.drain()
    rig.clock.advance(hours=1)
    assert rig.engine.executor.reconcile_interrupted() == 1
    rig.drain()
    assert rig.system.calls == [f"set {TARGET}=7"]


def test_verification_that_fails_marks_ineffective_rolls_back_and_escalates(rig: EngineRig) -> None:
    with rig.store.transaction() as session:
        incident = Incident(
            group_key="g", open_group_key="g", title="CPU high", opened_at=rig.clock(), updated_at=rig.clock()
        )
        session.add(incident)
        session.flush()
        incident_id = incident.id
    outcome = rig.engine.request(RunRequest("test.bump", TARGET, {"level": 4}, incident_id=incident_id))
    rig.drain()
    for _ in range(25):  # the incident keeps firing through the 10-minute verification window
        rig.clock.advance(seconds=31)
        rig.drain()
    run = next(r for r in runs(rig) if r.id == outcome.run_id)
    assert run.status == "ineffective"
    assert run.result["rolled_back"] == "changed"
    assert rig.system.calls == [f"set {TARGET}=4", f"rollback {TARGET}=0"]
    assert rig.system.values[TARGET] == 0
    assert [j.payload["run_id"] for j in jobs_of(rig, "escalate")] == [run.id]


def test_resolved_incident_makes_verification_succeed(rig: EngineRig) -> None:
    with rig.store.transaction() as session:
        incident = Incident(
            group_key="g", open_group_key="g", title="CPU high", opened_at=rig.clock(), updated_at=rig.clock()
        )
        session.add(incident)
        session.flush()
        incident_id = incident.id
    rig.engine.request(RunRequest("test.bump", TARGET, {"level": 4}, incident_id=incident_id))
    rig.drain()
    with rig.store.transaction() as session:
        stored = session.get(Incident, incident_id)
        assert stored is not None
        stored.status, stored.open_group_key = "resolved", None
    rig.clock.advance(seconds=31)
    rig.drain()
    [run] = runs(rig)
    assert run.status == "succeeded" and "the incident resolved" in run.reason
