"""One scoring path: a series scored by `conductor backtest` from a CSV file and by the detect stage
(fetched from CloudWatch, a moto server speaking the real wire format) gets the same scores, and the
alert score the gate reads is the highest backtest score in the alert window."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import boto3
import numpy as np

from bot.alerts.normalized import AlertStatus, Metric, NormalizedAlert, Provider, Resource
from bot.engine.gate import AnomalyStatus
from bot.pipeline.detect import DetectStage
from bot.pipeline.metric_history import MetricHistory
from detectors.api import AnomalyDetector
from detectors.settings import DetectorSettings
from integrations.aws.settings import AwsSettings, CloudWatchSettings
from integrations.azure.settings import AzureSettings
from integrations.gcp.monitoring import CloudMonitoringSettings
from tests.fakes.moto_server import MotoServer

STEP = timedelta(minutes=5)
DIMS = {"ClusterName": "prod", "ServiceName": "checkout"}
POINTS = 700  # 58 hours: inside the detect stage's 72-hour lookback


def _series(end: datetime) -> tuple[list[datetime], list[float]]:
    rng = np.random.default_rng(7)
    i = np.arange(POINTS)
    values = 40 + 8 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 1.0, POINTS)
    values[-5:] += 45.0  # the anomaly began 20 minutes before the alarm
    stamps = [end - STEP * (POINTS - 1 - k) for k in range(POINTS)]
    return stamps, [round(float(v), 6) for v in values]


def _put(stamps: list[datetime], values: list[float]) -> None:
    cloudwatch = boto3.client("cloudwatch")
    dims = [{"Name": k, "Value": v} for k, v in sorted(DIMS.items())]
    data = [
        {"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": t, "Value": v, "Unit": "Percent"}
        for t, v in zip(stamps, values, strict=True)
    ]
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/ECS", MetricData=cast(Any, data[start : start + 500]))


def _backtest(tmp_path: Path, stamps: list[datetime], values: list[float]) -> dict[datetime, float]:
    src = tmp_path / "checkout_cpu.csv"
    rows = [f"{t:%Y-%m-%d %H:%M:%S},{v!r}" for t, v in zip(stamps, values, strict=True)]
    src.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    # the real command in its own process (`python -m bot` is `conductor`)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "backtest", str(src), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with (tmp_path / "out" / src.name).open(newline="") as fh:
        return {
            datetime.strptime(r["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC): float(
                r["anomaly_score"]
            )
            for r in csv.DictReader(fh)
        }


def test_backtest_and_detect_stage_give_equal_scores(
    moto: MotoServer, tmp_path: Path, data_dir: Path
) -> None:
    clock = datetime.now(UTC).replace(second=0, microsecond=0)
    end = clock - timedelta(minutes=clock.minute % 5 + 5)  # the last whole period
    now = end + timedelta(minutes=2)  # the alarm fires 2 minutes into the next one
    stamps, values = _series(end)
    _put(stamps, values)
    backtest = _backtest(tmp_path, stamps, values)

    settings = DetectorSettings()
    history = MetricHistory(
        aws=AwsSettings(region="us-east-1"),
        cloudwatch=CloudWatchSettings(),
        azure=AzureSettings(),
        gcp=CloudMonitoringSettings(),
        lookback=timedelta(hours=72),
        period=STEP,
    )
    stage = DetectStage(detector=AnomalyDetector(settings, data_dir=data_dir, load=False), history=history)
    alert = NormalizedAlert(
        source="cloudwatch",
        fingerprint="checkout-cpu-high",
        name="checkout-cpu-high",
        status=AlertStatus.FIRING,
        resource=Resource(provider=Provider.AWS, type="ecs:service", id="prod/checkout", region="us-east-1"),
        metric=Metric(namespace="AWS/ECS", name="CPUUtilization", dimensions=DIMS, statistic="Average"),
    )
    detection = stage.run(alert, now)

    assert detection.status is AnomalyStatus.OK
    fetched = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in detection.evidence["timestamps"]]
    assert fetched == stamps  # the detect stage saw exactly the file's points
    live = dict(zip(fetched, detection.evidence["scores"], strict=True))
    compared = [t for t in stamps if live[t] is not None]
    assert len(compared) == settings.recent_points
    assert [live[t] for t in compared] == [backtest[t] for t in compared]
    window = [s for t, s in backtest.items() if t > now - timedelta(minutes=settings.alert_window_minutes)]
    assert detection.score == max(window)
    assert detection.score is not None and detection.score >= settings.threshold
    assert detection.anomaly.is_anomalous and not math.isnan(detection.score)
