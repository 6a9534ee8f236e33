"""The pipeline's stages, in order, declared in one place.

    normalize → dedupe → mute → group → detect → decide (rules + gate) → act (engine) → report

Each stage takes one thing and gives the next, or stops with a named reason (a `ReasonCode`:
muted, below the anomaly threshold, budget exhausted...). `PIPELINE` lists them in order with the
callable that does each, what it takes and gives, and where it runs: the first four in the worker
transaction that applies a stored webhook, detect and decide in the `incident.event` job, act in
the `run.*` jobs, report in the fan-out jobs. Every stage's module says the same in its docstring
(`Stage:`, `Takes:`, `Gives:`), and `tests/structure/test_stages.py` holds the two together.
docs/architecture.md draws the picture.

`Stage` is the interface of the stages that handle one item at a time as an object (detect,
decide): `run(item, now) -> result`. Dedupe, mute and group work on the rows `IncidentBook`
loaded for a batch (one transaction, one load, one write per delivery), so they are its methods,
called in this order by `IncidentBook.apply`. docs/architecture.md ("Why only detect and decide
are `Stage` objects") gives the reason for each stage entered another way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeVar, runtime_checkable

In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)


@runtime_checkable
class Stage(Protocol[In, Out]):
    """One step of the pipeline: takes one item, gives the next (the clock is passed in)."""

    name: str

    def run(self, item: In, now: datetime) -> Out: ...


class StageName(StrEnum):
    NORMALIZE = "normalize"
    DEDUPE = "dedupe"
    MUTE = "mute"
    GROUP = "group"
    DETECT = "detect"
    DECIDE = "decide"
    ACT = "act"
    REPORT = "report"


@dataclass(frozen=True, slots=True)
class StageSpec:
    name: StageName
    entry: str  # "module:qualified.name" of the callable that does it
    takes: str
    gives: str
    runs_in: str


PIPELINE: tuple[StageSpec, ...] = (
    StageSpec(
        StageName.NORMALIZE,
        "bot.ingest.parsing:normalize",
        takes="a stored webhook body (source, bytes, headers)",
        gives="ParsedDelivery: normalized alerts, or a malformed body dead-lettered with its reason",
        runs_in="worker, before the apply transaction (bot.ingest.processor)",
    ),
    StageSpec(
        StageName.DEDUPE,
        "bot.incidents.apply:IncidentBook.dedupe",
        takes="NormalizedAlert",
        gives="the alert's row, keyed by (source, fingerprint): new or a repeat; flapping noted",
        runs_in="worker, apply transaction",
    ),
    StageSpec(
        StageName.MUTE,
        "bot.incidents.apply:IncidentBook.mute",
        takes="a firing alert and its row",
        gives="MuteReason (silenced, inhibited) — the alert is stored and goes no further — or none",
        runs_in="worker, apply transaction",
    ),
    StageSpec(
        StageName.GROUP,
        "bot.incidents.apply:IncidentBook.group",
        takes="an unmuted alert and its row",
        gives="its incident (opened, reopened, updated or resolved) and an incident.event job",
        runs_in="worker, apply transaction",
    ),
    StageSpec(
        StageName.DETECT,
        "bot.pipeline.detect:DetectStage",
        takes="the incident's trigger alert",
        gives="Detection: the metric's anomaly score and status, explanation and evidence",
        runs_in="incident.event job (bot.pipeline.incident_flow)",
    ),
    StageSpec(
        StageName.DECIDE,
        "bot.pipeline.decide:DecideStage",
        takes="Suspect: the alert, whether it flaps, its Detection",
        gives="Choice: decision and DecisionCode; a planned run, gated (GateReason) or blocked (BlockedBy)",
        runs_in="incident.event job (bot.pipeline.incident_flow)",
    ),
    StageSpec(
        StageName.ACT,
        "bot.engine.execution:Executor.execute",
        takes="an approved run",
        gives="its result, then verify (succeeded | ineffective → rollback) and escalation",
        runs_in="run.execute / run.verify / run.rollback jobs (bot.engine)",
    ),
    StageSpec(
        StageName.REPORT,
        "bot.pipeline.fanout:Fanout.incident_changed",
        takes="an incident or run change (and escalations)",
        gives="Slack thread, Jira ticket and PagerDuty page kept up to date, each message once",
        runs_in="incident.event and reporting jobs (bot.pipeline.fanout)",
    ),
)
