"""`[scheduler]` and `[[sweeps]]`: errors name the key path; the example config's sweeps parse."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.config.loader import parse_settings
from bot.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
CW = [{"namespace": "AWS/ECS", "metric": "CPUUtilization"}]


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, {})
    return info.value.problems


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {
                "sweeps": [
                    {"name": "a", "kind": "budget"},
                    {"name": "b", "kind": "budget", "schedule": {"cron": "61 * * * *"}},
                ]
            },
            "sweeps[1].schedule.cron: not a valid crontab expression '61 * * * *'",
            id="bad-cron",
        ),
        pytest.param(
            {
                "sweeps": [
                    {"name": "a", "kind": "budget", "schedule": {"cron": "* * * * *", "interval_minutes": 5}}
                ]
            },
            "sweeps[0].schedule: give exactly one of cron, interval_minutes, interval_seconds",
            id="two-schedules",
        ),
        pytest.param(
            {"sweeps": [{"name": "a", "kind": "budget"}, {"name": "a", "kind": "waste"}]},
            "sweeps: two sweeps named 'a' ([0] and [1])",
            id="duplicate-name",
        ),
        pytest.param(
            {"sweeps": [{"name": "a", "kind": "budget", "cpu_threshold": 10}]},
            "sweeps[0]: cpu_threshold: not a key of a budget sweep",
            id="key-of-another-kind",
        ),
        pytest.param(
            {"sweeps": [{"name": "a", "kind": "anomaly"}]},
            "sweeps[0]: an anomaly sweep needs at least one cloudwatch, azure or gcp selector",
            id="anomaly-without-series",
        ),
        pytest.param(
            {"sweeps": [{"name": "a", "kind": "anomaly", "cloudwatch": [{"namespace": "AWS/ECS"}]}]},
            "sweeps[0].cloudwatch[0]: give metric (one exact metric) or dimension_names",
            id="cloudwatch-selector-shape",
        ),
        pytest.param(
            {"sweeps": [{"name": "a", "kind": "anomaly", "cloudwatch": CW, "period_seconds": 45}]},
            "sweeps[0]: period_seconds: CloudWatch wants 1, 5, 10, 20, 30 or a multiple of 60",
            id="cloudwatch-period",
        ),
        pytest.param(
            {
                "sweeps": [
                    {
                        "name": "a",
                        "kind": "anomaly",
                        "gcp": [{"project": "p", "metric_type": "m", "aligner": "MEAN"}],
                    }
                ]
            },
            "sweeps[0].gcp[0].aligner: unknown aligner 'MEAN'",
            id="gcp-aligner",
        ),
        pytest.param(
            {"sweeps": [{"name": "Not OK", "kind": "budget"}]},
            "sweeps[0].name: use lower-case letters",
            id="name",
        ),
        pytest.param(
            {"sweeps": [{"name": "a", "kind": "waste", "cpu_threshold": 0}]},
            "sweeps[0].cpu_threshold: Input should be greater than 0",
            id="threshold-range",
        ),
        pytest.param(
            {"scheduler": {"lease_seconds": 10, "renew_every_seconds": 10}},
            "scheduler: renew_every_seconds must be shorter than lease_seconds",
            id="renew-after-expiry",
        ),
        pytest.param(
            {"scheduler": {"timezone": "Mars/Olympus"}},
            "scheduler.timezone: unknown time zone 'Mars/Olympus'",
            id="timezone",
        ),
    ],
)
def test_errors_name_the_key_path(raw: dict[str, Any], expected: str) -> None:
    found = problems(raw)
    assert any(p.startswith(expected) for p in found), found


def test_defaults() -> None:
    settings = parse_settings({"sweeps": [{"name": "w", "kind": "waste"}]}, {})
    (sweep,) = settings.sweeps
    assert sweep.schedule.describe() == "every 15m"
    assert (sweep.cpu_threshold, sweep.window_days, sweep.period().total_seconds()) == (20.0, 7.0, 3600)
    assert [(s.namespace, s.metric, s.dimension_names) for s in sweep.default_sources()] == [
        ("AWS/EC2", "CPUUtilization", ["InstanceId"])
    ]
    no_ec2 = parse_settings({"sweeps": [{"name": "w", "kind": "waste", "cloudwatch": []}]}, {}).sweeps[0]
    assert no_ec2.default_sources() == []
    assert settings.scheduler.lease_seconds == 30 and settings.scheduler.renew_every() == 10
    assert parse_settings({}, {}).sweeps == []


def test_the_example_config_sweeps_parse_when_uncommented() -> None:
    text = EXAMPLE.read_text()
    block = text[text.index("# --- Scheduled sweeps") :].splitlines()[1:]
    raw = tomllib.loads("\n".join(re.sub(r"^# ?", "", line) for line in block))
    settings = parse_settings(raw, {})
    assert [(s.name, s.kind) for s in settings.sweeps] == [
        ("ecs-cpu", "anomaly"),
        ("weekly-waste", "waste"),
        ("budgets", "budget"),
        ("weekly-kpis", "digest"),
    ]
    waste = settings.sweeps[1]
    assert [s.namespace for s in waste.default_sources()] == ["AWS/EC2"] and waste.azure
