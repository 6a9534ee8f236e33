"""aws.ec2.reboot_instance against moto: approval always, marker tags, verify after settling, reconcile."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from bot.runbook_kit.loader import load_builtin_runbooks
from bot.runbook_kit.spec import REGISTRY, ApprovalMode, Outcome, ReconcileDecision, Risk, VerifyStatus
from bot.runbook_kit.targets import Target, parse_target
from integrations.aws.clients import Ec2Client
from runbooks.aws_ec2_reboot_instance import (
    MARKER_TAG,
    RUNBOOK_ID,
    RebootMarker,
    RebootParams,
    plan_reboot,
    reboot_instance,
    reconcile_reboot,
    verify_reboot,
)
from tests.fakes.moto_server import MotoServer
from tests.runbooks.conftest import TEST_AMI, MakeContext, SettableClock

PARAMS = RebootParams()


@pytest.fixture
def instance(ec2_moto: MotoServer) -> Target:
    ec2 = boto3.client("ec2")
    created = ec2.run_instances(ImageId=TEST_AMI, MinCount=1, MaxCount=1, InstanceType="t3.small")
    return parse_target(f"aws:ec2:instance/{created['Instances'][0]['InstanceId']}")


def tags(target: Target) -> dict[str, str]:
    reply = boto3.client("ec2").describe_instances(InstanceIds=[target.part("id")])
    raw = reply["Reservations"][0]["Instances"][0].get("Tags", [])
    return {t["Key"]: t["Value"] for t in raw}


def test_high_risk_and_always_approved() -> None:
    load_builtin_runbooks()
    spec = REGISTRY.get(RUNBOOK_ID)
    assert spec is not None
    assert (spec.act, spec.risk, spec.approval.mode) == (reboot_instance, Risk.HIGH, ApprovalMode.ALWAYS)
    assert spec.rollback is None
    assert spec.reconcile is reconcile_reboot


def test_plan_lists_the_calls_and_changes_nothing(instance: Target, make_ctx: MakeContext) -> None:
    plan = plan_reboot(make_ctx(), instance, PARAMS)

    assert [c.operation for c in plan.calls] == ["CreateTags", "RebootInstances", "CreateTags"]
    assert plan.calls[1].params == {"InstanceIds": [instance.part("id")]}
    assert plan.findings["state"] == "running"
    assert plan.findings["instance_type"] == "t3.small"
    assert plan.findings["system_status"] == "ok"
    assert tags(instance) == {}


def test_reboot_marks_the_instance_and_verifies_after_settling(
    instance: Target, make_ctx: MakeContext, clock: SettableClock
) -> None:
    ctx = make_ctx(run_id="run-42")

    result = reboot_instance(ctx, instance, PARAMS)

    assert result.outcome is Outcome.CHANGED
    marker = RebootMarker.parse(tags(instance)[MARKER_TAG])
    assert marker is not None
    assert (marker.phase, marker.run_id) == ("sent", "run-42")
    assert verify_reboot(ctx, instance, PARAMS, result) is VerifyStatus.PENDING  # checks may be stale
    clock.advance(timedelta(seconds=PARAMS.settle_seconds + 1))
    assert verify_reboot(ctx, instance, PARAMS, result) is VerifyStatus.SUCCEEDED


def test_stopped_instance_is_not_rebooted(instance: Target, make_ctx: MakeContext) -> None:
    boto3.client("ec2").stop_instances(InstanceIds=[instance.part("id")])
    ctx = make_ctx()

    plan = plan_reboot(ctx, instance, PARAMS)
    result = reboot_instance(ctx, instance, PARAMS)

    assert (plan.calls, plan.verdict) == ([], "not_running")
    assert (result.outcome, result.reason) == (Outcome.NOOP, "not_running")
    assert tags(instance) == {}


def test_verify_fails_when_the_instance_stopped(
    instance: Target, make_ctx: MakeContext, clock: SettableClock
) -> None:
    ctx = make_ctx()
    result = reboot_instance(ctx, instance, PARAMS)
    boto3.client("ec2").stop_instances(InstanceIds=[instance.part("id")])
    clock.advance(timedelta(minutes=5))

    assert verify_reboot(ctx, instance, PARAMS, result) is VerifyStatus.FAILED


def test_reconcile_reads_the_marker(instance: Target, make_ctx: MakeContext, clock: SettableClock) -> None:
    ctx = make_ctx(run_id="run-7")
    started_at = clock()
    ec2 = ctx.services.get(Ec2Client)

    # Crash before anything was sent: safe to run again.
    assert reconcile_reboot(ctx, instance, PARAMS, started_at) is ReconcileDecision.NOT_APPLIED
    # Crash between marking and RebootInstances (or before EC2's answer): nobody can tell.
    ec2.set_tag(instance.part("id"), MARKER_TAG, RebootMarker("requested", clock(), "run-7").render())
    assert reconcile_reboot(ctx, instance, PARAMS, started_at) is ReconcileDecision.UNKNOWN
    # Crash after the reboot was accepted, before the result was stored.
    reboot_instance(ctx, instance, PARAMS)
    assert reconcile_reboot(ctx, instance, PARAMS, started_at) is ReconcileDecision.ALREADY_APPLIED


def test_reconcile_ignores_an_older_runs_marker(
    instance: Target, make_ctx: MakeContext, clock: SettableClock
) -> None:
    reboot_instance(make_ctx(run_id="yesterday"), instance, PARAMS)
    clock.advance(timedelta(days=1))

    decision = reconcile_reboot(make_ctx(run_id="today"), instance, PARAMS, clock())

    assert decision is ReconcileDecision.NOT_APPLIED


def test_reconcile_of_a_vanished_instance_escalates(
    moto: MotoServer, make_ctx: MakeContext, clock: SettableClock
) -> None:
    gone = parse_target("aws:ec2:instance/i-0123456789abcdef0")
    assert reconcile_reboot(make_ctx(), gone, PARAMS, clock()) is ReconcileDecision.UNKNOWN
