"""The ingest storm benchmark still works: its generator, and a tiny run where what was
acknowledged is exactly what was stored. No timing assertions (the machine is shared)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ingest_storm.py"


@pytest.fixture(scope="module")
def storm() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ingest_storm", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ingest_storm"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_generator_makes_realistic_alertmanager_groups(storm: ModuleType) -> None:
    deliveries = storm.generate(600, seed=1, replay_rate=0.2)
    originals = [d for d in deliveries if d.replay_of is None]
    assert sum(d.alerts for d in originals) == 600
    assert all(1 <= d.alerts <= 50 for d in deliveries)
    assert any(d.replay_of is not None for d in deliveries)
    statuses, pods, keys = set(), set(), set()
    for d in originals:
        body = json.loads(d.body)
        assert body["version"] == "4" and body["groupKey"] and len(body["alerts"]) == d.alerts
        for alert in body["alerts"]:
            assert {"alertname", "severity", "namespace", "pod", "service", "instance"} <= alert[
                "labels"
            ].keys()
            assert len(alert["fingerprint"]) == 16
            statuses.add(alert["status"])
            pods.add(alert["labels"]["pod"])
        keys.add((body["groupKey"], tuple(sorted(a["fingerprint"] + a["status"] for a in body["alerts"]))))
    assert statuses == {"firing", "resolved"}
    assert 100 <= len(pods) <= 200
    assert len(keys) == len(originals)  # every group state is distinct: no accidental duplicates
    assert storm.generate(600, seed=1, replay_rate=0.2)[5].body == deliveries[5].body  # seeded


def test_tiny_storm_stores_exactly_what_was_acknowledged(storm: ModuleType, tmp_path: Path) -> None:
    deliveries = storm.generate(200, seed=2, replay_rate=0.1)
    outcome = storm.run_once(
        deliveries, clients=4, client="raw", work=tmp_path, drain_timeout=120.0, bare_passes=1
    )
    check = outcome.check
    assert outcome.conductor.errors == 0 and outcome.bare.errors == 0
    assert check.acknowledged == len(deliveries)
    assert check.stored == check.acknowledged_new == check.acknowledged - check.duplicates
    assert check.stored_alerts == check.acknowledged_alerts == 200
    assert check.mismatched_bodies == 0 and check.unacknowledged_replays == 0
    assert check.ok
    assert check.pending_after == 0 and check.alerts_rows > 0 and check.incidents > 0
