"""One place that makes boto3 clients, and one place that turns botocore errors into ours.

`AwsSession` builds clients from `AwsSettings` (region, endpoint, botocore retries, timeouts).
`aws_errors(system, operation)` wraps every call a typed client makes and raises `AwsError`, an
`IntegrationError` whose `retryable` says whether trying again may help:

- throttling, HTTP 429/5xx, timeouts and connection failures: retryable;
- validation, not found, access denied, bad credentials/region and anything else: not retryable.

botocore already retries transient errors `max_attempts` times inside one call; `retryable=True`
tells the run engine that a later attempt of the whole step may still succeed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from bot.errors import IntegrationError
from integrations.aws.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_autoscaling.client import AutoScalingClient as BotoAutoScaling
    from mypy_boto3_cloudwatch.client import CloudWatchClient as BotoCloudWatch
    from mypy_boto3_ec2.client import EC2Client as BotoEc2
    from mypy_boto3_ecs.client import ECSClient as BotoEcs
    from mypy_boto3_glue.client import GlueClient as BotoGlue

# The codes botocore's "standard" retry mode treats as throttling or transient
# (botocore/retries/standard.py), plus Auto Scaling's "another change is in progress" faults.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "InternalError",
        "InternalFailure",
        "InternalServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServerException",
        "ScalingActivityInProgress",
        "ResourceContention",
    }
)


class AwsError(IntegrationError):
    """An AWS call failed. `code` is AWS's error code ("" when no response came back)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        system: str,
        operation: str,
        code: str = "",
        status: int | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable, system=system)
        self.operation = operation
        self.code = code
        self.status = status


def is_retryable(code: str, status: int | None) -> bool:
    """Whether an AWS error response may succeed if the call is tried again later."""
    if code in THROTTLING_CODES or code in TRANSIENT_CODES:
        return True
    return status is not None and (status == 429 or status >= 500)


def error_from_client_error(exc: ClientError, *, system: str, operation: str) -> AwsError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = str(error.get("Message", "")) or str(exc)
    return AwsError(
        f"{system} {operation} failed: {code}: {message}",
        retryable=is_retryable(code, status),
        system=system,
        operation=operation,
        code=code,
        status=status,
    )


@contextmanager
def aws_errors(system: str, operation: str) -> Iterator[None]:
    """Raise `AwsError` (retryable or not) for whatever botocore raises inside the block."""
    try:
        yield
    except ClientError as exc:
        raise error_from_client_error(exc, system=system, operation=operation) from exc
    except (HTTPClientError, BotoConnectionError) as exc:
        # Covers connect/read timeouts, refused and dropped connections.
        raise AwsError(
            f"{system} {operation} failed: cannot reach AWS: {exc}",
            retryable=True,
            system=system,
            operation=operation,
        ) from exc
    except BotoCoreError as exc:
        # No credentials, no region, parameter validation...: trying again will not help.
        raise AwsError(
            f"{system} {operation} failed: {exc}",
            retryable=False,
            system=system,
            operation=operation,
            code=type(exc).__name__,
        ) from exc


class AwsSession:
    """Makes boto3 clients configured from `AwsSettings`.

    boto3 sessions are not thread-safe while creating clients, so creation is serialized; the
    clients themselves are thread-safe and are cached, one per service.
    """

    def __init__(self, settings: AwsSettings | None = None) -> None:
        self.settings = settings or AwsSettings()
        self._lock = threading.Lock()
        self._boto = boto3.session.Session(region_name=self.settings.region)
        self._config = Config(
            retries={"total_max_attempts": self.settings.max_attempts, "mode": "standard"},
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
        )
        self._glue: BotoGlue | None = None
        self._ecs: BotoEcs | None = None
        self._autoscaling: BotoAutoScaling | None = None
        self._ec2: BotoEc2 | None = None
        self._cloudwatch: BotoCloudWatch | None = None

    @property
    def region(self) -> str | None:
        """The region boto3 resolved (from settings, else the environment/profile)."""
        return self._boto.region_name

    # endpoint_url=None lets botocore apply AWS_ENDPOINT_URL[_<SERVICE>] itself.
    def glue(self) -> BotoGlue:
        with self._lock, aws_errors("aws.glue", "CreateClient"):
            if self._glue is None:
                self._glue = self._boto.client(
                    "glue", endpoint_url=self.settings.endpoint_url, config=self._config
                )
            return self._glue

    def ecs(self) -> BotoEcs:
        with self._lock, aws_errors("aws.ecs", "CreateClient"):
            if self._ecs is None:
                self._ecs = self._boto.client(
                    "ecs", endpoint_url=self.settings.endpoint_url, config=self._config
                )
            return self._ecs

    def autoscaling(self) -> BotoAutoScaling:
        with self._lock, aws_errors("aws.autoscaling", "CreateClient"):
            if self._autoscaling is None:
                self._autoscaling = self._boto.client(
                    "autoscaling", endpoint_url=self.settings.endpoint_url, config=self._config
                )
            return self._autoscaling

    def ec2(self) -> BotoEc2:
        with self._lock, aws_errors("aws.ec2", "CreateClient"):
            if self._ec2 is None:
                self._ec2 = self._boto.client(
                    "ec2", endpoint_url=self.settings.endpoint_url, config=self._config
                )
            return self._ec2

    def cloudwatch(self) -> BotoCloudWatch:
        with self._lock, aws_errors("aws.cloudwatch", "CreateClient"):
            if self._cloudwatch is None:
                self._cloudwatch = self._boto.client(
                    "cloudwatch", endpoint_url=self.settings.endpoint_url, config=self._config
                )
            return self._cloudwatch
