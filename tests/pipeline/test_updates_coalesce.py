"""Repeats of a firing alert each queue an "updated" incident event; when several are queued
before the reporters get to them, only the latest is reported (it shows the incident as it is)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bot.ingest.committer import RawDelivery, write_deliveries
from bot.runtime import Runtime
from tests.http.conftest import make_runtime


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []

    def incident_changed(self, incident_id: int, event: str) -> None:
        self.events.append((incident_id, event))

    def run_changed(self, run_id: int, event: str) -> None:
        pass

    def escalated(self, *, run_id: int | None, incident_id: int | None, reason: str) -> None:
        pass


def deliver(runtime: Runtime, delivery_id: str) -> None:
    body = json.dumps(
        {
            "id": delivery_id,
            "alerts": [
                {
                    "name": "DiskFull",
                    "status": "firing",
                    "severity": "error",
                    "fingerprint": "disk-full-i-0abc",
                    "resource": {"provider": "aws", "type": "ec2:instance", "id": "i-0abc"},
                }
            ],
        }
    ).encode()
    write_deliveries(
        runtime.store,
        [
            RawDelivery(
                source="generic",
                idempotency_key=f"generic:{delivery_id}",
                body=body,
                headers={"content-type": "application/json"},
                content_type="application/json",
                received_at=datetime.now(UTC),
                request_id=delivery_id,
                alert_count=1,
            )
        ],
    )
    assert runtime.processor.run_once("test-worker") == 1


def events(recorder: Recorder) -> list[str]:
    return [event for _incident_id, event in recorder.events]


def updates(recorder: Recorder) -> int:
    return events(recorder).count("updated")


def run_jobs(runtime: Runtime) -> None:
    while runtime.jobs.run_once("test-worker"):
        pass


def test_queued_repeats_are_reported_once_and_later_ones_again(data_dir: Path) -> None:
    runtime = make_runtime(data_dir, ingest={"intake": "inline"})
    recorder = Recorder()
    runtime.fanout.reporters.append(recorder)
    for n in range(4):  # opened, then three repeats before any job runs
        deliver(runtime, f"d{n}")
    run_jobs(runtime)
    assert updates(recorder) == 1 and ("opened" in events(recorder))
    coalesced = runtime.metrics.registry.get_sample_value(
        "conductor_incident_events_total", {"event": "updated_coalesced"}
    )
    assert coalesced == 2
    deliver(runtime, "d4")  # a repeat after the reports went out is reported on its own
    run_jobs(runtime)
    assert updates(recorder) == 2
    assert len({incident_id for incident_id, _event in recorder.events}) == 1
    runtime.store.dispose()
