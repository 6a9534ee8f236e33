"""aws.autoscaling.set_capacity against moto: guards, the group's own MaxSize, verify, rollback."""

from __future__ import annotations

import boto3
import pytest

from bot.runbook_kit.loader import load_builtin_runbooks
from bot.runbook_kit.spec import REGISTRY, Outcome, ReconcileDecision, Risk, VerifyStatus
from bot.runbook_kit.targets import parse_target
from integrations.aws.settings import AwsGuards, AwsSettings
from runbooks.aws_autoscaling_set_capacity import (
    RUNBOOK_ID,
    AsgCapacityParams,
    plan_capacity,
    reconcile_capacity,
    rollback_capacity,
    set_capacity,
    verify_capacity,
)
from tests.fakes.moto_server import MotoServer
from tests.runbooks.conftest import TEST_AMI, MakeContext, SettableClock

TARGET = parse_target("aws:autoscaling:group/web-asg")


@pytest.fixture
def group(ec2_moto: MotoServer) -> None:
    """web-asg: MinSize 1, MaxSize 4, DesiredCapacity 2 (the guards in the settings allow 1..10)."""
    boto3.client("ec2").create_launch_template(
        LaunchTemplateName="web-template",
        LaunchTemplateData={"ImageId": TEST_AMI, "InstanceType": "t3.micro"},
    )
    boto3.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="web-asg",
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        LaunchTemplate={"LaunchTemplateName": "web-template"},
        AvailabilityZones=["us-east-1a"],
    )


def capacity() -> int:
    groups = boto3.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["web-asg"])
    return groups["AutoScalingGroups"][0]["DesiredCapacity"]


def test_registered_with_its_policy() -> None:
    load_builtin_runbooks()
    spec = REGISTRY.get(RUNBOOK_ID)
    assert spec is not None
    assert (spec.act, spec.risk, spec.target_kind) == (set_capacity, Risk.MEDIUM, "aws:autoscaling:group")
    assert spec.budget is not None
    assert spec.budget.max_runs == 3


def test_plan_shows_before_and_after_and_changes_nothing(group: None, make_ctx: MakeContext) -> None:
    plan = plan_capacity(make_ctx(), TARGET, AsgCapacityParams(desired_capacity=3))

    (call,) = plan.calls
    assert (call.operation, call.before, call.after) == ("SetDesiredCapacity", 2, 3)
    assert call.params == {"AutoScalingGroupName": "web-asg", "DesiredCapacity": 3, "HonorCooldown": False}
    assert plan.findings["guards"] == [1, 4]  # config allows 10; the group's MaxSize is 4
    assert plan.findings["group_limits"] == [1, 4]
    assert capacity() == 2


def test_never_beyond_the_groups_own_max_size(group: None, make_ctx: MakeContext) -> None:
    ctx = make_ctx()

    plan = plan_capacity(ctx, TARGET, AsgCapacityParams(desired_capacity=6))
    refused = set_capacity(ctx, TARGET, AsgCapacityParams(desired_capacity=6))
    clamped = set_capacity(ctx, TARGET, AsgCapacityParams(step=5))

    assert (plan.calls, plan.verdict) == ([], "beyond_guard")
    assert "above the max guard 4" in plan.summary
    assert (refused.outcome, refused.reason) == (Outcome.NOOP, "beyond_guard")
    assert (clamped.outcome, clamped.details["desired_capacity"], clamped.details["clamped"]) == (
        Outcome.CHANGED,
        4,
        True,
    )
    assert capacity() == 4


def test_config_guard_stops_a_scale_below_the_groups_max(group: None, make_ctx: MakeContext) -> None:
    tight = AwsSettings(max_attempts=1, guards=AwsGuards(asg_min=1, asg_max=3))
    ctx = make_ctx(settings=tight)

    assert plan_capacity(ctx, TARGET, AsgCapacityParams(desired_capacity=4)).verdict == "beyond_guard"
    assert set_capacity(ctx, TARGET, AsgCapacityParams(factor=2)).details["desired_capacity"] == 3
    assert capacity() == 3


def test_act_verify_rollback(group: None, make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    params = AsgCapacityParams(desired_capacity=3)

    result = set_capacity(ctx, TARGET, params)

    assert (result.outcome, result.reason) == (Outcome.CHANGED, "DesiredCapacity 2 -> 3")
    assert capacity() == 3
    assert verify_capacity(ctx, TARGET, params, result) is VerifyStatus.SUCCEEDED  # 3 InService in moto

    undone = rollback_capacity(ctx, TARGET, params, result)

    assert undone.outcome is Outcome.CHANGED
    assert capacity() == 2
    assert rollback_capacity(ctx, TARGET, params, result).reason == "already_at_target"


def test_reconcile(group: None, make_ctx: MakeContext, clock: SettableClock) -> None:
    ctx = make_ctx()
    absolute = AsgCapacityParams(desired_capacity=3)
    assert reconcile_capacity(ctx, TARGET, absolute, clock()) is ReconcileDecision.NOT_APPLIED
    set_capacity(ctx, TARGET, absolute)
    assert reconcile_capacity(ctx, TARGET, absolute, clock()) is ReconcileDecision.ALREADY_APPLIED
    assert reconcile_capacity(ctx, TARGET, AsgCapacityParams(step=1), clock()) is ReconcileDecision.UNKNOWN
