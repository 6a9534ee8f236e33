"""What the CloudWatch metric source is asked for: explicit metric queries and SEARCH schemas, the
statistic spellings, the region and the series key. No SDK here: the sweeps read these without
loading botocore (the source itself is `integrations.aws.cloudwatch_metrics`; its settings are
`integrations.aws.settings.CloudWatchSettings`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.errors import ConfigError
from integrations.aws.settings import AwsSettings

_STATISTICS = {
    "average": "Average", "sum": "Sum", "minimum": "Minimum", "maximum": "Maximum",
    "samplecount": "SampleCount", "min": "Minimum", "max": "Maximum", "avg": "Average",
}  # fmt: skip
_EXTENDED_STAT = re.compile(r"(p|tm|wm|tc|ts|pr)\d+(\.\d+)?\Z", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CloudWatchMetricQuery:
    """One metric, named exactly. `stat` is a GetMetricData statistic (`Average`, `p99`, ...)."""

    namespace: str
    metric_name: str
    dimensions: Mapping[str, str] = field(default_factory=dict)
    stat: str = "Average"
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class CloudWatchSearch:
    """Every metric of `namespace` whose dimension names are exactly `dimension_names` (SEARCH's schema),
    optionally narrowed to one metric name and to exact dimension values."""

    namespace: str
    dimension_names: tuple[str, ...] = ()
    metric_name: str | None = None
    dimension_values: Mapping[str, str] = field(default_factory=dict)
    stat: str = "Average"

    def __post_init__(self) -> None:
        unknown = set(self.dimension_values) - set(self.dimension_names)
        if unknown:
            raise ValueError(
                f"dimension values for {sorted(unknown)} are not in the schema {self.dimension_names}"
            )

    def expression(self, period: timedelta) -> str:
        schema = ",".join(_search_token(part) for part in (self.namespace, *self.dimension_names))
        terms = [f'MetricName="{self.metric_name}"'] if self.metric_name else []
        terms += [f'{name}="{value}"' for name, value in self.dimension_values.items()]
        search = " ".join([f"{{{schema}}}", *terms])
        return f"SEARCH('{search}', '{self.stat}', {period_seconds(period)})"

    @classmethod
    def parse(cls, text: str) -> CloudWatchSearch:
        """Read `SEARCH('{NS,Dim,...} MetricName="m" Dim="v"', 'Stat'[, period])`.

        Only the schema and exact `Name="value"` terms are understood (that is what ListMetrics can
        reproduce); free-text, partial-match and boolean terms raise `ValueError`.
        """
        outer = re.fullmatch(r"\s*SEARCH\(\s*'([^']*)'\s*,\s*'([^']+)'\s*(?:,\s*\d+\s*)?\)\s*", text)
        if outer is None:
            raise ValueError(f"not a SEARCH('...', 'Stat', period) expression: {text!r}")
        search, stat = outer.groups()
        inner = re.fullmatch(r"\s*\{([^}]*)\}(.*)", search)
        if inner is None:
            raise ValueError(f"SEARCH needs a {{Namespace,DimensionName,...}} schema: {search!r}")
        schema = [part.strip().strip('"') for part in inner.group(1).split(",")]
        if not schema[0]:
            raise ValueError(f"SEARCH schema names no namespace: {search!r}")
        terms = dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', inner.group(2)))
        leftover = re.sub(r'(\w+)\s*=\s*"([^"]*)"', "", inner.group(2)).strip()
        if leftover:
            raise ValueError(f'unsupported SEARCH terms {leftover!r}; use exact Name="value" terms')
        metric_name = terms.pop("MetricName", None)
        return cls(
            namespace=schema[0],
            dimension_names=tuple(schema[1:]),
            metric_name=metric_name,
            dimension_values=terms,
            stat=normalize_statistic(stat),
        )


CloudWatchQuery = CloudWatchMetricQuery | CloudWatchSearch


def normalize_statistic(statistic: str) -> str:
    """`AVERAGE` / `SAMPLE_COUNT` (as alarms spell them) or `avg` -> the GetMetricData spelling."""
    text = statistic.strip()
    known = _STATISTICS.get(text.replace("_", "").lower())
    if known:
        return known
    if _EXTENDED_STAT.match(text):
        return text.lower()
    return text  # IQM, TM(10%:90%), ...: CloudWatch validates them


def cloudwatch_series_key(
    namespace: str, metric_name: str, dimensions: Mapping[str, str], stat: str, *, region: str | None
) -> str:
    """e.g. `aws/us-east-1/AWS/ECS/CPUUtilization/ClusterName=a,ServiceName=b/Average`."""
    dims = ",".join(f"{k}={v}" for k, v in sorted(dimensions.items()))
    parts = ["aws", region or "-", namespace, metric_name, *([dims] if dims else []), stat]
    return "/".join(parts)


def resolve_region(aws: AwsSettings, environ: Mapping[str, str] = os.environ) -> str:
    """`[aws] region`, else $AWS_REGION, else $AWS_DEFAULT_REGION (a key is part of every series)."""
    region = aws.region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigError(["aws.region: not set, and neither AWS_REGION nor AWS_DEFAULT_REGION is"])
    return region


def period_seconds(period: timedelta) -> int:
    seconds = period.total_seconds()
    if seconds != int(seconds) or not (
        int(seconds) in (1, 5, 10, 20, 30) or (seconds >= 60 and seconds % 60 == 0)
    ):
        raise ValueError(f"CloudWatch period must be 1, 5, 10, 20, 30 s or a multiple of 60 s, not {period}")
    return int(seconds)


def _search_token(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_./:#-]+", text) else f'"{text}"'
