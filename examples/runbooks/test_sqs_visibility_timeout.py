"""Tests of the example runbook, through the documented helper (docs/runbooks.md, "Testing a runbook").

The harness runs the runbook's own plan, action, verification and rollback with the real boto3
against moto; nothing of the runbook is replaced.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine.deps import InvalidParams
from bot.runbook_kit.spec import Outcome, ReconcileDecision, VerifyStatus
from bot.runbook_testing import RunbookHarness
from bot.runbook_testing.moto import MotoServer
from bot.runbook_testing.plugin import HarnessFactory

RUNBOOK = Path(__file__).with_name("sqs_visibility_timeout.py")
TARGET = "aws:sqs:queue/orders"


def _visibility(moto_aws: MotoServer) -> int:
    sqs = moto_aws.client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    return int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["VisibilityTimeout"]
    )


@pytest.fixture
def harness(moto_aws: MotoServer, runbook_harness: HarnessFactory) -> RunbookHarness:
    moto_aws.client("sqs").create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "30"})
    return runbook_harness(RUNBOOK)


def test_plan_execute_verify_rollback(harness: RunbookHarness, moto_aws: MotoServer) -> None:
    report = harness.check(TARGET, {"seconds": 600})

    [call] = report.plan.calls
    assert (call.before, call.after) == (30, 600)
    assert report.result is not None and report.result.outcome is Outcome.CHANGED
    assert report.verify is VerifyStatus.SUCCEEDED
    assert report.rollback is not None and report.rollback.outcome is Outcome.CHANGED
    assert _visibility(moto_aws) == 30  # rolled back


def test_execute_changes_the_queue_and_plan_does_not(harness: RunbookHarness, moto_aws: MotoServer) -> None:
    harness.plan(TARGET, {"seconds": 600})
    assert _visibility(moto_aws) == 30
    result = harness.execute(TARGET, {"seconds": 600})
    assert result.rollback_state == {"before": 30}
    assert _visibility(moto_aws) == 600


def test_never_lowers_the_timeout(harness: RunbookHarness, moto_aws: MotoServer) -> None:
    report = harness.check(TARGET, {"seconds": 10})
    assert report.plan.is_noop and report.plan.verdict == "already_enough"
    assert report.result is None
    assert harness.execute(TARGET, {"seconds": 10}).outcome is Outcome.NOOP
    assert _visibility(moto_aws) == 30


def test_reconcile_tells_whether_the_change_happened(harness: RunbookHarness) -> None:
    spec = harness.spec
    assert spec.reconcile is not None
    target, params = harness.parse(TARGET, {"seconds": 600})
    ctx = harness.context()
    assert spec.reconcile(ctx, target, params, harness.clock()) is ReconcileDecision.NOT_APPLIED
    harness.execute(TARGET, {"seconds": 600})
    assert spec.reconcile(ctx, target, params, harness.clock()) is ReconcileDecision.ALREADY_APPLIED


def test_bad_params_are_refused_like_the_engine_refuses_them(harness: RunbookHarness) -> None:
    with pytest.raises(InvalidParams, match="seconds"):
        harness.plan(TARGET, {"seconds": 99_999})


def test_a_missing_queue_fails_the_plan(harness: RunbookHarness) -> None:
    from bot.errors import IntegrationError

    with pytest.raises(IntegrationError, match="GetQueueUrl"):
        harness.plan("aws:sqs:queue/missing", {"seconds": 600})
