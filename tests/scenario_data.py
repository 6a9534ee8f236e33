"""Shared builders for pipeline and end-to-end tests: metric history in moto, alarm payloads."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3

PERIOD = timedelta(minutes=5)


def put_history(
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    *,
    end: datetime,
    points: int = 240,
    base: float = 40.0,
    spike: float | None = 95.0,
    spike_points: int = 4,
) -> None:
    """A daily-ish sine around `base` with noise, ending in `spike_points` at `spike` (None: no spike)."""
    cloudwatch = boto3.client("cloudwatch")
    dims = [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]
    data = []
    for i in range(points):
        at = end - PERIOD * (points - 1 - i)
        value = base + 5 * math.sin(i / 12.0) + ((i * 7919) % 13) / 13.0
        if spike is not None and i >= points - spike_points:
            value = spike
        data.append(
            {"MetricName": metric, "Dimensions": dims, "Timestamp": at, "Value": value, "Unit": "Percent"}
        )
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=cast(Any, data[start : start + 500]))


def cloudwatch_alarm_message(
    *,
    name: str,
    state: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    at: datetime,
    threshold: float = 85.0,
    region: str = "us-east-1",
    account: str = "123456789012",
) -> dict[str, Any]:
    """The alarm JSON CloudWatch puts inside an SNS Message (as AWS documents it)."""
    return {
        "AlarmName": name,
        "AlarmDescription": f"{metric} above {threshold}",
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": "2026-11-01T00:00:00.000+0000",
        "NewStateValue": state,
        "NewStateReason": f"Threshold Crossed: 1 datapoint [95.0] > the threshold ({threshold}).",
        "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "Region": "US East (N. Virginia)",
        "AlarmArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "OKActions": [],
        "AlarmActions": [f"arn:aws:sns:{region}:{account}:conductor"],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": metric,
            "Namespace": namespace,
            "StatisticType": "Statistic",
            "Statistic": "AVERAGE",
            "Unit": None,
            "Dimensions": [{"value": v, "name": k} for k, v in dimensions.items()],
            "Period": 300,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": threshold,
            "TreatMissingData": "missing",
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def as_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
