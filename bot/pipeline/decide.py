"""The decide stage: rules, then the gate — which runbook, if any, and whether it may run.

Stage: decide.
Takes: `Suspect` — an incident's trigger alert, whether it flaps, and the detect stage's `Detection`.
Gives: `Choice` — `decision` (a `bot.engine.gate.Decision` value), a `DecisionCode` with its
  sentence, the planned run's id when one was requested, and the gate's `GateReason`.

The first matching rule (`bot.engine.rules`) names the runbook, target and parameters; the run
engine plans the run and gates it (`bot.engine.gate`: auto-run, ask a human, or nothing, with the
named reason); a budget, cooldown or busy target can still refuse it (`BlockedBy`). Runs from the
`incident.event` job, outside any transaction (planning reads the target's real state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from bot.alerts.normalized import NormalizedAlert
from bot.config.rules import RuleSettings
from bot.engine.gate import Decision, GateReason
from bot.engine.requests import RequestOutcome, RunRequest
from bot.engine.rules import match_rule
from bot.engine.templating import TemplateError
from bot.errors import ConductorError
from bot.pipeline.detect import Detection
from bot.reasons import ReasonCode


class DecisionCode(ReasonCode):
    """What the pipeline decided for an incident, as stored in `incidents.decision_reason`."""

    RULE_TEMPLATE_FAILED = "rule_template_failed", "no action: rule template failed: {error}"
    NO_RULE = "no_rule", "no action: no rule matches this alert"
    REQUEST_FAILED = "request_failed", "no action: {runbook} could not be requested: {error}"
    GATE_SAID_NO = "gate_said_no", "no action: {reason}"
    RUN_BLOCKED = "run_blocked", "no action: run {run_id} blocked: {reason}"
    RUNS_AUTOMATICALLY = "runs_automatically", "{runbook} runs automatically: {reason}"
    WAITS_FOR_APPROVAL = "waits_for_approval", "{runbook} waits for approval: {reason}"
    NOTHING_TO_CHANGE = "nothing_to_change", "{runbook} found nothing to change: {reason}"
    SUGGESTED = "suggested", "{runbook} is suggested (a responder may run it): {reason}"
    RUN_STATUS = "run_status", "{runbook} {status}: {reason}"


@dataclass(frozen=True, slots=True)
class Suspect:
    """What the decide stage takes: the incident's trigger alert and what detection found."""

    incident_id: int
    flapping: bool
    alert: NormalizedAlert
    detection: Detection


class Choice(NamedTuple):
    decision: str  # a `Decision` value
    code: DecisionCode
    reason: str  # the code's sentence, filled in
    run_id: int | None
    gate: GateReason | None = None  # why the gate decided, when it was asked


class RunRequester(Protocol):
    """The run engine as the decide stage uses it (`bot.engine.engine.Engine`)."""

    def request(self, req: RunRequest) -> RequestOutcome: ...


def _chose(
    decision: Decision,
    code: DecisionCode,
    run_id: int | None = None,
    gate: GateReason | None = None,
    /,
    **facts: object,
) -> Choice:
    return Choice(decision.value, code, code.say(**facts), run_id, gate)


_STATUS_CODES = {
    "approved": DecisionCode.RUNS_AUTOMATICALLY,
    "awaiting_approval": DecisionCode.WAITS_FOR_APPROVAL,
    "succeeded": DecisionCode.NOTHING_TO_CHANGE,
    "suggested": DecisionCode.SUGGESTED,
}


class DecideStage:
    """Rules + gate for one incident (see the module docstring)."""

    name = "decide"

    def __init__(self, *, rules: list[RuleSettings], engine: RunRequester) -> None:
        self._rules = rules
        self._engine = engine

    def run(self, item: Suspect, now: datetime) -> Choice:
        """`now` is unused: the engine reads its own clock when it records the run."""
        try:
            match = match_rule(self._rules, item.alert)
        except TemplateError as exc:
            return _chose(Decision.NO_ACTION, DecisionCode.RULE_TEMPLATE_FAILED, error=exc)
        if match is None:
            return _chose(Decision.NO_ACTION, DecisionCode.NO_RULE)
        rule = match.rule
        request = RunRequest(
            runbook_id=rule.runbook,
            target=match.target,
            params=match.params,
            incident_id=item.incident_id,
            requested_by=f"rule:{rule.name}",
            rule_approval=rule.approval,
            min_anomaly_score=rule.min_anomaly_score,
            on_insufficient_data=rule.on_insufficient_data,
            anomaly=item.detection.anomaly,
            flapping=item.flapping,
            mode=rule.mode,
            rule=rule.name,
        )
        try:
            outcome = self._engine.request(request)
        except ConductorError as exc:
            return _chose(Decision.NO_ACTION, DecisionCode.REQUEST_FAILED, runbook=rule.runbook, error=exc)
        if outcome.run_id is None:
            return _chose(
                outcome.decision, DecisionCode.GATE_SAID_NO, None, outcome.gate, reason=outcome.reason
            )
        if outcome.blocked:
            return _chose(
                Decision.NO_ACTION,
                DecisionCode.RUN_BLOCKED,
                outcome.run_id,
                outcome.gate,
                run_id=outcome.run_id,
                reason=outcome.reason,
            )
        code = _STATUS_CODES.get(outcome.status or "", DecisionCode.RUN_STATUS)
        return _chose(
            outcome.decision,
            code,
            outcome.run_id,
            outcome.gate,
            runbook=rule.runbook,
            status=outcome.status or "",
            reason=outcome.reason,
        )
