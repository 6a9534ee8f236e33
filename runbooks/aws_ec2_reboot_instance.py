"""aws.ec2.reboot_instance: reboot a running EC2 instance (high risk, approval always)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from bot.runbook_kit.spec import (
    ApprovalPolicy,
    Budget,
    Outcome,
    Plan,
    PlannedCall,
    ReconcileDecision,
    Risk,
    RunContext,
    RunResult,
    VerifyStatus,
    runbook,
)
from bot.runbook_kit.targets import Target
from integrations.aws.clients import Ec2Client
from integrations.aws.session import AwsError

RUNBOOK_ID = "aws.ec2.reboot_instance"
# EC2 keeps no record of reboots, so the run leaves one on the instance: "<phase> <time> <run id>",
# phase "requested" just before RebootInstances and "sent" once EC2 accepted it. Reconcile reads it.
MARKER_TAG = "cloud-conductor:reboot"
REQUESTED, SENT = "requested", "sent"
CLOCK_SKEW = timedelta(seconds=5)
GONE_STATES = frozenset({"stopping", "stopped", "shutting-down", "terminated"})

NOT_RUNNING = "not_running"


class RebootParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    settle_seconds: int = Field(
        120, ge=0, le=3600, description="Verify trusts the status checks only this long after the reboot."
    )


@dataclass(frozen=True, slots=True)
class RebootMarker:
    phase: str
    at: datetime
    run_id: str

    def render(self) -> str:
        return f"{self.phase} {self.at.isoformat()} {self.run_id}"

    @classmethod
    def parse(cls, value: str | None) -> RebootMarker | None:
        parts = (value or "").split(" ", 2)
        if len(parts) != 3 or parts[0] not in (REQUESTED, SENT):
            return None
        try:
            at = datetime.fromisoformat(parts[1])
        except ValueError:
            return None
        return cls(parts[0], at, parts[2])


def _tag_call(instance_id: str, phase: str, ctx: RunContext) -> PlannedCall:
    return PlannedCall(
        system="aws.ec2",
        operation="CreateTags",
        params={"Resources": [instance_id], "Tags": {MARKER_TAG: f"{phase} <time> {ctx.run_id}"}},
        description=f"mark the reboot as {phase} (lets a crashed run be reconciled)",
    )


def plan_reboot(ctx: RunContext, target: Target, params: RebootParams) -> Plan:
    ec2 = ctx.services.get(Ec2Client)
    instance = ec2.describe_instance(target.part("id"))
    findings: dict[str, object] = {
        "state": instance.state,
        "instance_type": instance.instance_type,
        "launch_time": instance.launch_time.isoformat() if instance.launch_time else None,
        "name": instance.tags.get("Name", ""),
    }
    if instance.state != "running":
        return Plan(
            summary=f"instance {instance.id} is {instance.state}: only a running instance can be rebooted",
            verdict=NOT_RUNNING,
            findings=findings,
        )
    status = ec2.instance_status(instance.id)
    findings.update(system_status=status.system_status, instance_status=status.instance_status)
    calls = [
        _tag_call(instance.id, REQUESTED, ctx),
        PlannedCall(
            system="aws.ec2",
            operation="RebootInstances",
            params={"InstanceIds": [instance.id]},
            before="running",
            after="running (rebooted)",
            description="reboot the operating system; the instance keeps its host, IPs and disks",
        ),
        _tag_call(instance.id, SENT, ctx),
    ]
    return Plan(summary=f"Reboot EC2 instance {instance.id}", calls=calls, findings=findings)


def verify_reboot(ctx: RunContext, target: Target, params: RebootParams, result: RunResult) -> VerifyStatus:
    """After `settle_seconds`: succeeded when running with both status checks ok; failed when the
    instance stopped or a check is impaired; pending while the checks initialize."""
    rebooted_at = result.details.get("rebooted_at")
    if result.outcome is not Outcome.CHANGED or not isinstance(rebooted_at, str):
        return VerifyStatus.SUCCEEDED
    if ctx.clock() < datetime.fromisoformat(rebooted_at) + timedelta(seconds=params.settle_seconds):
        return VerifyStatus.PENDING  # too early: the checks may still describe the old boot
    status = ctx.services.get(Ec2Client).instance_status(target.part("id"))
    if status.state in GONE_STATES or "impaired" in (status.system_status, status.instance_status):
        return VerifyStatus.FAILED
    if status.state == "running" and status.checks_ok:
        return VerifyStatus.SUCCEEDED
    return VerifyStatus.PENDING


def reconcile_reboot(
    ctx: RunContext, target: Target, params: RebootParams, started_at: datetime
) -> ReconcileDecision:
    """Read the marker tag: none from this run -> the reboot was never requested (NOT_APPLIED);
    "sent" -> EC2 accepted it (ALREADY_APPLIED); "requested" -> cannot tell (UNKNOWN)."""
    try:
        instance = ctx.services.get(Ec2Client).describe_instance(target.part("id"))
    except AwsError as exc:
        if exc.retryable:
            raise
        return ReconcileDecision.UNKNOWN  # gone or not readable: a human decides
    marker = RebootMarker.parse(instance.tags.get(MARKER_TAG))
    # Conservative: any marker written since the run started counts as this run's.
    ours = marker is not None and (marker.run_id == ctx.run_id or marker.at >= started_at - CLOCK_SKEW)
    if marker is None or not ours:
        return ReconcileDecision.NOT_APPLIED
    return ReconcileDecision.ALREADY_APPLIED if marker.phase == SENT else ReconcileDecision.UNKNOWN


@runbook(
    id=RUNBOOK_ID,
    title="Reboot an EC2 instance",
    risk=Risk.HIGH,
    params=RebootParams,
    target_kind="aws:ec2:instance",
    plan=plan_reboot,
    verify=verify_reboot,
    reconcile=reconcile_reboot,
    timeout=timedelta(minutes=15),
    cooldown=timedelta(minutes=30),
    budget=Budget(max_runs=2, window=timedelta(hours=24)),
    approval=ApprovalPolicy.always(),
)
def reboot_instance(ctx: RunContext, target: Target, params: RebootParams) -> RunResult:
    """Reboot a running EC2 instance; always asks a human first.

    Only a `running` instance is rebooted (otherwise a no-op `not_running`). The plan shows the
    instance's state and status checks and the calls: tag `cloud-conductor:reboot` "requested",
    RebootInstances, tag "sent". Verify waits `settle_seconds` (default 120) and then for the
    instance to be running with both status checks ok.

    Risk high, approval always. Budget 2 reboots per instance per 24 h, cooldown 30 min, no
    automatic retries (a timed-out RebootInstances may still have happened). No rollback.
    Reconcile after a crash reads the tag: not requested -> run again; sent -> already done;
    requested but not confirmed -> a human decides.
    """
    ec2 = ctx.services.get(Ec2Client)
    instance = ec2.describe_instance(target.part("id"))
    if instance.state != "running":
        return RunResult.noop(NOT_RUNNING, message=f"instance is {instance.state}", state=instance.state)
    ec2.set_tag(instance.id, MARKER_TAG, RebootMarker(REQUESTED, ctx.clock(), ctx.run_id).render())
    ec2.reboot(instance.id)
    rebooted_at = ctx.clock()
    ec2.set_tag(instance.id, MARKER_TAG, RebootMarker(SENT, rebooted_at, ctx.run_id).render())
    return RunResult.changed(
        f"rebooted {instance.id}", instance_id=instance.id, rebooted_at=rebooted_at.isoformat()
    )
