"""`[aws]` settings for the typed AWS clients and the AWS runbooks.

Everything left as `None` falls back to boto3's own resolution, so the same code runs against real
AWS and against moto in tests: the region comes from `AWS_REGION` / `AWS_DEFAULT_REGION` / the
shared config file, and the endpoint from `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_<SERVICE>`).
Credentials never appear here: boto3 finds them in the environment, a profile or the instance role.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AwsGuards(BaseModel):
    """Default bounds for the scaling runbooks; a run's own `min`/`max` params override them.

    The Auto Scaling bounds are further narrowed by the group's own MinSize/MaxSize: a run never
    asks for a capacity outside the group's limits, whatever these say.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ecs_min: int = Field(1, ge=0, description="Lowest desiredCount an ECS scale may set.")
    ecs_max: int = Field(20, ge=0, description="Highest desiredCount an ECS scale may set.")
    asg_min: int = Field(1, ge=0, description="Lowest DesiredCapacity an Auto Scaling change may set.")
    asg_max: int = Field(20, ge=0, description="Highest DesiredCapacity an Auto Scaling change may set.")

    @model_validator(mode="after")
    def _ordered(self) -> AwsGuards:
        if self.ecs_min > self.ecs_max:
            raise ValueError(f"ecs_min ({self.ecs_min}) is above ecs_max ({self.ecs_max})")
        if self.asg_min > self.asg_max:
            raise ValueError(f"asg_min ({self.asg_min}) is above asg_max ({self.asg_max})")
        return self


class AwsSettings(BaseModel):
    """How the bot talks to AWS (`[aws]` in the config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str | None = Field(
        None, description="AWS region, e.g. eu-west-1. None: AWS_REGION / AWS_DEFAULT_REGION / profile."
    )
    endpoint_url: str | None = Field(
        None, description="Override every service's endpoint. None: AWS_ENDPOINT_URL or the real AWS."
    )
    max_attempts: int = Field(
        3, ge=1, le=20, description="botocore attempts per call (first try included), 'standard' mode."
    )
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a TCP connection.")
    read_timeout: float = Field(30.0, gt=0, description="Seconds to wait for a response.")
    metric_namespace: str = Field(
        "CloudConductor",
        min_length=1,
        max_length=255,
        description="CloudWatch namespace of the remediation metrics (e.g. JobRemediation).",
    )
    guards: AwsGuards = Field(default_factory=AwsGuards, description="Default scaling bounds.")


class CloudWatchSettings(BaseModel):
    """How the CloudWatch metric source selects and fetches. Region, endpoint and timeouts are the
    shared `[aws]` settings (`AwsSettings`); its `max_attempts` (botocore's retries) is not used here,
    because botocore's retries are off and `max_attempts` below drives `call_with_retry`."""

    model_config = ConfigDict(extra="forbid")

    selection: Literal["search", "list_metrics"] = Field(
        "search", description="search: SEARCH expressions (real AWS); list_metrics: ListMetrics + explicit."
    )
    max_attempts: int = Field(5, ge=1, le=20, description="Attempts per API call, throttling included.")
    max_datapoints: int | None = Field(
        None, ge=1, description="GetMetricData MaxDatapoints (page size); None: the AWS default, 100,800."
    )
