"""Integration clients for runbooks and reporting, built lazily from settings.

Nothing here touches the network until a runbook or a report first asks for a client, so
integrations that are not configured cost nothing (and say so at start-up).

Each outside call has one retry layer (docs/retries.md). Runbooks, plans and verification use
clients that retry inside the call (the SDKs' own retries); reporting runs as persisted jobs that
the job queue retries, so its clients are built with `client_retries=False` and send each call once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.config.root import Settings
from bot.runbook_kit.services import ServiceRegistry
from integrations.aws.clients import register_aws_services
from integrations.azure.appservice import AppServiceClient
from integrations.azure.logs import LogAnalyticsClient
from integrations.azure.settings import AzureSettings
from integrations.downstream.settings import DownstreamSettings
from integrations.downstream.webhook import WebhookSender
from integrations.jira.client import JiraTickets
from integrations.jira.settings import JiraSettings
from integrations.pagerduty.events import PagerDutyEvents
from integrations.pagerduty.settings import PagerDutySettings
from integrations.slack.settings import SlackOff, resolve_secrets


def build_services(settings: Settings, *, client_retries: bool = True) -> ServiceRegistry:
    registry = ServiceRegistry()
    register_aws_services(registry, settings.aws)
    registry.put(AzureSettings, settings.azure)
    registry.provide(AppServiceClient, lambda: AppServiceClient(settings.azure))
    registry.provide(LogAnalyticsClient, lambda: LogAnalyticsClient(settings.azure))
    pagerduty = settings.pagerduty
    if not client_retries:
        pagerduty = pagerduty.model_copy(update={"max_http_attempts": 1})
    registry.put(PagerDutySettings, pagerduty)
    registry.provide(PagerDutyEvents, lambda: PagerDutyEvents(pagerduty))
    jira = settings.jira
    if jira is not None:
        if not client_retries:
            jira = jira.model_copy(update={"max_retries": 0})
        registry.put(JiraSettings, jira)
        registry.provide(JiraTickets, lambda: JiraTickets(jira))
    registry.put(DownstreamSettings, settings.downstream)
    registry.provide(WebhookSender, lambda: WebhookSender(settings.downstream))
    return registry


@dataclass(frozen=True)
class IntegrationStatus:
    name: str
    enabled: bool
    detail: str


def integration_status(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> list[IntegrationStatus]:
    """What is on and off, for the start-up log and `/conductor status`."""
    env = os.environ if environ is None else environ
    out = []
    aws_on = bool(
        env.get("AWS_ACCESS_KEY_ID")
        or env.get("AWS_PROFILE")
        or env.get("AWS_ROLE_ARN")
        or env.get("AWS_WEB_IDENTITY_TOKEN_FILE")
        or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    )
    out.append(
        IntegrationStatus(
            "aws",
            aws_on,
            "credentials from the environment"
            if aws_on
            else "off: no AWS credentials in the environment (instance roles are tried on use)",
        )
    )
    azure_on = bool(settings.azure.access_token_env and env.get(settings.azure.access_token_env)) or bool(
        env.get("AZURE_CLIENT_ID")
    )
    out.append(
        IntegrationStatus(
            "azure",
            azure_on,
            "credential configured"
            if azure_on
            else "off: no AZURE_CLIENT_ID or access token (managed identity is tried on use)",
        )
    )
    slack = resolve_secrets(settings.slack, env)
    out.append(
        IntegrationStatus(
            "slack",
            not isinstance(slack, SlackOff),
            slack.reason if isinstance(slack, SlackOff) else f"on ({slack.mode} mode)",
        )
    )
    out.append(
        IntegrationStatus(
            "jira",
            settings.jira is not None,
            f"on ({settings.jira.url})" if settings.jira else "off: no [jira] section",
        )
    )
    keys = [name for name, var in settings.pagerduty.routing_keys.items() if env.get(var)]
    out.append(
        IntegrationStatus(
            "pagerduty",
            bool(keys),
            f"on (services: {', '.join(keys)})"
            if keys
            else "off: no routing key variables set under [pagerduty.routing_keys]",
        )
    )
    return out
