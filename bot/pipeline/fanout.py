"""Jobs that tell people: each reporter hears every incident and run change.

Stage: report.
Takes: an incident or run change (`incident_changed`, `run_changed`) or an escalation.
Gives: each reporter's rendering of it (Slack thread, Jira ticket, PagerDuty page), sent once.

A failing reporter does not stop the others; the job is retried and the reporters that
already delivered skip their messages (notification log), so nothing is sent twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.errors import ConductorError, WorkDeferred
from bot.job_runner import JobRunner
from bot.jobs import ClaimedJob
from bot.logs import get_logger
from bot.reporting.base import Reporter

log = get_logger(__name__)


class ReportingFailed(ConductorError):
    """One or more reporters failed; the job is retried."""


def _each(reporters: Sequence[Reporter], call: Callable[[Reporter], None], what: str) -> None:
    failures = []
    deferred: list[WorkDeferred] = []
    for reporter in reporters:
        try:
            call(reporter)
        except WorkDeferred as exc:  # another worker is sending that message right now
            deferred.append(exc)
        except Exception as exc:  # noqa: BLE001 - isolate reporters; the job is retried
            log.warning("reporter failed", reporter=reporter.name, what=what, error=str(exc))
            failures.append(f"{reporter.name}: {exc.__class__.__name__}: {exc}")
    if failures:
        raise ReportingFailed("; ".join(failures))
    if deferred:  # only waits: the job comes back when the latest claim would have run out
        raise WorkDeferred("; ".join(str(d) for d in deferred), until=max(d.until for d in deferred))


class Fanout:
    def __init__(self, reporters: list[Reporter]) -> None:
        self.reporters = reporters

    def incident_changed(self, incident_id: int, event: str) -> None:
        _each(
            self.reporters,
            lambda r: r.incident_changed(incident_id, event),
            f"incident {incident_id} {event}",
        )

    def run_changed(self, run_id: int, event: str) -> None:
        _each(self.reporters, lambda r: r.run_changed(run_id, event), f"run {run_id} {event}")

    def escalated(self, *, run_id: int | None, incident_id: int | None, reason: str) -> None:
        _each(
            self.reporters,
            lambda r: r.escalated(run_id=run_id, incident_id=incident_id, reason=reason),
            f"escalation run={run_id} incident={incident_id}",
        )

    def register_jobs(self, runner: JobRunner) -> None:
        runner.register(
            "run.event", lambda job: self.run_changed(int(job.payload["run_id"]), str(job.payload["event"]))
        )
        runner.register("escalate", lambda job: self._escalate(job))
        runner.register(
            "circuit.event",
            lambda job: self.circuit_changed(int(job.payload["circuit_id"]), str(job.payload["event"])),
        )

    def circuit_changed(self, circuit_id: int, event: str) -> None:
        """A circuit breaker opened or closed: reporters that render circuits are told."""
        told = [r for r in self.reporters if hasattr(r, "circuit_changed")]
        _each(told, lambda r: r.circuit_changed(circuit_id, event), f"circuit {circuit_id} {event}")  # type: ignore[attr-defined]

    def _escalate(self, job: ClaimedJob) -> None:
        run_id = job.payload.get("run_id")
        incident_id = job.payload.get("incident_id")
        self.escalated(
            run_id=int(run_id) if run_id is not None else None,
            incident_id=int(incident_id) if incident_id is not None else None,
            reason=str(job.payload.get("reason", "")),
        )
