"""One place that makes boto3 clients, and one place that turns botocore errors into ours.

`make_client(service, settings)` is the only factory of boto3 clients: region, endpoint, timeouts
and the botocore `Config` (standard retry mode, `[aws] max_attempts` attempts per call) come from
`AwsSettings`. A caller with a retry layer of its own (the metric sources' tenacity loop, one
non-repeatable call) passes `max_attempts=1`, so each call has exactly one retry layer
(docs/retries.md). `AwsSession` caches the runbooks' clients. `resumable_pages` walks a boto3
paginator under such a retry layer, resuming at the page that failed.

`aws_errors(system, operation)` wraps every call a typed client makes and raises `AwsError`, an
`IntegrationError` whose `retryable` says whether trying again later may help:

- throttling, HTTP 429/5xx, timeouts and connection failures: retryable;
- validation, not found, access denied, bad credentials/region and anything else: not retryable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError, NoRegionError
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


MISSING_SETUP: dict[type[BotoCoreError], str] = {
    NoRegionError: "no AWS region: set [aws] region in the config, or AWS_DEFAULT_REGION",
    NoCredentialsError: (
        "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        "or run where an instance or task role provides them"
    ),
}


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
    except (NoRegionError, NoCredentialsError) as exc:
        # What is missing, in one line: a --dry-run on a laptop with no AWS set up ends here.
        raise AwsError(
            f"{system} {operation}: {MISSING_SETUP[type(exc)]}",
            retryable=False,
            system=system,
            operation=operation,
            code=type(exc).__name__,
        ) from exc
    except BotoCoreError as exc:
        # Parameter validation and the like: trying again will not help.
        raise AwsError(
            f"{system} {operation} failed: {exc}",
            retryable=False,
            system=system,
            operation=operation,
            code=type(exc).__name__,
        ) from exc


def botocore_config(settings: AwsSettings, *, max_attempts: int | None = None) -> Config:
    """The botocore `Config` of every client: timeouts and standard-mode retries. `max_attempts`
    counts the first try (1: botocore does not retry; the caller's own layer does)."""
    return Config(
        retries={"total_max_attempts": max_attempts or settings.max_attempts, "mode": "standard"},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
    )


def make_client(
    service: str,
    settings: AwsSettings,
    *,
    region: str | None = None,
    max_attempts: int | None = None,
    session: boto3.session.Session | None = None,
) -> Any:
    """A boto3 client for `service` (from `session`, else boto3's default session, which caches
    the service models). endpoint_url=None lets botocore apply AWS_ENDPOINT_URL[_<SERVICE>]."""
    make: Any = session.client if session is not None else boto3.client
    with aws_errors(f"aws.{service}", "CreateClient"):
        return make(
            service,
            region_name=region or settings.region,
            endpoint_url=settings.endpoint_url,
            config=botocore_config(settings, max_attempts=max_attempts),
        )


Page = Mapping[str, Any]


def resumable_pages(
    paginator: Any, kwargs: Mapping[str, Any], *, call: Callable[[Callable[[], Page | None]], Page | None]
) -> Iterator[Page]:
    """The pages of a boto3 paginator, each fetched through `call` (a retry layer).

    A page that fails kills boto3's page iterator, so the retry starts a new one at the last page
    that succeeded (`StartingToken` is that page's `NextToken`, as boto3 documents): pages already
    read are never fetched again.
    """
    resume: str | None = None
    pages: Iterator[Page] | None = None

    def next_page() -> Page | None:
        nonlocal pages
        if pages is None:
            config = {"StartingToken": resume} if resume else {}
            pages = iter(paginator.paginate(**kwargs, PaginationConfig=config))
        try:
            return next(pages, None)
        except BaseException:
            pages = None  # resume from `resume` on the next attempt
            raise

    while (page := call(next_page)) is not None:
        yield page
        resume = page.get("NextToken") or resume


class AwsSession:
    """The runbooks' boto3 clients, built by `make_client` on first use and cached per service.

    boto3 sessions are not thread-safe while creating clients, so creation is serialized; the
    clients themselves are thread-safe.
    """

    def __init__(self, settings: AwsSettings | None = None) -> None:
        self.settings = settings or AwsSettings()
        self._lock = threading.Lock()
        self._boto = boto3.session.Session(region_name=self.settings.region)
        self._clients: dict[tuple[str, int | None], Any] = {}

    @property
    def region(self) -> str | None:
        """The region boto3 resolved (from settings, else the environment/profile)."""
        return self._boto.region_name

    def client(self, service: str, *, max_attempts: int | None = None) -> Any:
        """The cached client of `service`; `max_attempts=1` gives a client botocore never retries."""
        with self._lock:
            key = (service, max_attempts)
            if key not in self._clients:
                self._clients[key] = make_client(
                    service, self.settings, max_attempts=max_attempts, session=self._boto
                )
            return self._clients[key]

    def glue(self) -> BotoGlue:
        client: BotoGlue = self.client("glue")
        return client

    def ecs(self) -> BotoEcs:
        client: BotoEcs = self.client("ecs")
        return client

    def autoscaling(self) -> BotoAutoScaling:
        client: BotoAutoScaling = self.client("autoscaling")
        return client

    def ec2(self, *, max_attempts: int | None = None) -> BotoEc2:
        client: BotoEc2 = self.client("ec2", max_attempts=max_attempts)
        return client

    def cloudwatch(self) -> BotoCloudWatch:
        client: BotoCloudWatch = self.client("cloudwatch")
        return client
