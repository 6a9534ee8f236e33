"""The outside systems sweeps read from and post to, built from settings on first use.

Each is built once per process and kept, so a source's health (consecutive failures) carries from
run to run. Tests (and the benchmark) hand in prebuilt ones: a CloudWatch source on moto, an Azure
source with a test credential, a Cloud Monitoring source on an insecure gRPC channel, a Slack port
on the fake.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from bot.config.root import Settings
from integrations.slack.settings import resolve_api_url

if TYPE_CHECKING:
    from integrations.aws.budgets import BudgetsClient
    from integrations.aws.cloudwatch_metrics import CloudWatchMetricSource
    from integrations.azure.monitor_metrics import AzureMonitorMetricSource
    from integrations.gcp.monitoring import CloudMonitoringMetricSource
    from integrations.slack.client import SlackPort

T = TypeVar("T")


class SweepSources:
    """Lazily built clients. `slack()` is None when `$SLACK_BOT_TOKEN` (as configured) is unset."""

    def __init__(
        self,
        settings: Settings,
        *,
        cloudwatch: CloudWatchMetricSource | None = None,
        azure: AzureMonitorMetricSource | None = None,
        gcp: CloudMonitoringMetricSource | None = None,
        budgets: BudgetsClient | None = None,
        slack: SlackPort | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self._environ = os.environ if environ is None else environ
        self._built: dict[str, object] = {}
        for key, value in (
            ("cloudwatch", cloudwatch),
            ("azure", azure),
            ("gcp", gcp),
            ("budgets", budgets),
            ("slack", slack),
        ):
            if value is not None:
                self._built[key] = value
        self._lock = threading.Lock()

    def _get(self, key: str, build: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._built:
                self._built[key] = build()
            value: T = self._built[key]  # type: ignore[assignment]
            return value

    def cloudwatch(self) -> CloudWatchMetricSource:
        """Raises ConfigError when no region is configured or found in the environment."""
        from integrations.aws.cloudwatch_metrics import CloudWatchMetricSource

        return self._get(
            "cloudwatch",
            lambda: CloudWatchMetricSource(self.settings.cloudwatch, aws=self.settings.aws),
        )

    def azure(self) -> AzureMonitorMetricSource:
        """DefaultAzureCredential (environment, managed identity, CLI login), built on first fetch."""
        from integrations.azure.monitor_metrics import AzureMonitorMetricSource

        return self._get("azure", lambda: AzureMonitorMetricSource(self.settings.azure))

    def gcp(self) -> CloudMonitoringMetricSource:
        """Application Default Credentials, built on first fetch."""
        from integrations.gcp.monitoring import CloudMonitoringMetricSource

        return self._get("gcp", lambda: CloudMonitoringMetricSource(self.settings.gcp))

    def budgets(self) -> BudgetsClient:
        from integrations.aws.budgets import BudgetsClient

        return self._get("budgets", lambda: BudgetsClient(self.settings.aws))

    def slack(self) -> SlackPort | None:
        """Posting needs only the bot token (receiving commands is the Slack app's business)."""
        with self._lock:
            if "slack" in self._built:
                port: SlackPort | None = self._built["slack"]  # type: ignore[assignment]
                return port
        token = self._environ.get(self.settings.slack.bot_token_env, "").strip()
        if not token:
            return None
        from integrations.slack.client import SlackPoster

        url = resolve_api_url(self.settings.slack, self._environ)
        return self._get("slack", lambda: SlackPoster.from_token(token, url, timeout=10))

    def slack_off_reason(self) -> str:
        return f"Slack is off: ${self.settings.slack.bot_token_env} is not set"
