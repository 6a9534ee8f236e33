"""No configured secret reaches the log, in either format, even when every route fails.

A real `conductor serve` runs with every kind of secret configured (API token, webhook bearer
token, basic credentials, HMAC secrets, Slack tokens, the Jira token, a PagerDuty routing key).
Every route is called with valid credentials while the store works, then again after the store
has lost its tables, so each route fails with a logged traceback. The log is then searched for
every secret in the shapes it travels in: none may be there, and the tracebacks must be.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ServerProcess
from tests.fakes.slack import FakeSlack, sign_request, slash_command_body

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
SECRETS = {
    "CONDUCTOR_API_TOKEN": "api-token-5be3c1d7",
    "CONDUCTOR_ADMIN_TOKEN": "admin-token-77d0e2b4",
    "AM_BEARER": "bearer-token-9e4a21",
    "GENERIC_BASIC": "ops:basic-pass-c0ffee",
    "PD_SECRET": "pd-hmac-secret-31c4",
    "GRAFANA_SECRET": "grafana-hmac-8d2b",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-slackbottoken",
    "SLACK_SIGNING_SECRET": "slack-signing-7f3e9a",
    "JIRA_USER": "conductor@example.com",
    "JIRA_API_TOKEN": "jira-token-a5a5a5",
    "PD_ROUTING_KEY_OPS": "R0UT1NGKEY0PS77",
}
CONFIG = """
data_dir = "{data_dir}"
[logging]
format = "{format}"
[ingest]
allow_unauthenticated = false
[ingest.auth.alertmanager]
mode = "bearer"
secret_env = "AM_BEARER"
[ingest.auth.generic]
mode = "basic"
secret_env = "GENERIC_BASIC"
[ingest.auth.pagerduty]
mode = "pagerduty"
secret_env = "PD_SECRET"
[ingest.auth.grafana]
mode = "grafana"
secret_env = "GRAFANA_SECRET"
[slack]
api_url = "{slack}"
default_channel = "C0INCIDENTS"
[jira]
url = "http://127.0.0.1:9"
project = "OPS"
[pagerduty]
default_service = "ops"
[pagerduty.routing_keys]
ops = "PD_ROUTING_KEY_OPS"
[workers]
threads = 1
poll_interval_seconds = 0.05
[[permissions.api_tokens]]
name = "ops-admin"
secret_env = "CONDUCTOR_ADMIN_TOKEN"
role = "admin"
[approvals.approvers."risk:high"]
role = "admin"
[approvals.approvers."risk:medium"]
role = "admin"
"""


def leaked_shapes() -> dict[str, str]:
    """Each secret as it may travel: raw, and basic credentials as their password and base64."""
    shapes = {name: value for name, value in SECRETS.items() if name != "JIRA_USER"}
    shapes["GENERIC_BASIC password"] = SECRETS["GENERIC_BASIC"].split(":", 1)[1]
    shapes["GENERIC_BASIC base64"] = base64.b64encode(SECRETS["GENERIC_BASIC"].encode()).decode()
    return shapes


def webhook_requests() -> list[tuple[str, bytes, dict[str, str]]]:
    def body(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    def hmac_hex(secret: str, data: bytes) -> str:
        return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()

    am = body("alertmanager__mixed_group_k8s_replica_a.json")
    generic = body("generic__single_firing.json")
    pd = body("pagerduty_webhook_v3__incident.triggered.json")
    grafana = body("grafana_unified_alerting__firing_and_resolved_values.json")
    basic = base64.b64encode(SECRETS["GENERIC_BASIC"].encode()).decode()
    return [
        ("alertmanager", am, {"authorization": f"Bearer {SECRETS['AM_BEARER']}"}),
        ("generic", generic, {"authorization": f"Basic {basic}"}),
        ("pagerduty", pd, {"x-pagerduty-signature": "v1=" + hmac_hex(SECRETS["PD_SECRET"], pd)}),
        ("grafana", grafana, {"x-grafana-alerting-signature": hmac_hex(SECRETS["GRAFANA_SECRET"], grafana)}),
        ("datadog", body("datadog_webhook__Triggered.json"), {}),  # refused: no auth configured
    ]


def api_calls(openapi: dict[str, object]) -> list[tuple[str, str, dict[str, object] | None]]:
    bodies: dict[str, dict[str, object]] = {
        "/api/silences": {"matchers": ["alertname=Probe"], "duration_minutes": 5},
        "/api/approvals/{approval_id}": {"decision": "approve", "reason": ""},
    }
    calls = []
    paths = openapi["paths"]
    assert isinstance(paths, dict)
    for path, operations in paths.items():
        for method in operations:
            url = re.sub(r"\{[^}]+\}", "1", path)
            calls.append((method.upper(), url, bodies.get(path, {}) if method != "get" else None))
    return calls


def call_every_route(http: httpx.Client, openapi: dict[str, object], response_url: str) -> list[int]:
    """Every route once, with valid credentials; the statuses answered."""
    close = {"connection": "close"}  # a route that fails may take its connection down with it
    # an admin token, so every route gets past its permission check to the work that fails
    token = {"authorization": f"Bearer {SECRETS['CONDUCTOR_ADMIN_TOKEN']}", **close}
    requests = [http.build_request(m, url, json=body, headers=token) for m, url, body in api_calls(openapi)]
    requests += [http.build_request("GET", p, headers=token) for p in ("/healthz", "/readyz", "/metrics")]
    for source, data, headers in webhook_requests():
        headers = {"content-type": "application/json", **close, **headers}
        requests.append(http.build_request("POST", f"/webhooks/{source}", content=data, headers=headers))
    command = slash_command_body("incidents", response_url=response_url)
    signed = {**close, **sign_request(SECRETS["SLACK_SIGNING_SECRET"], command)}
    requests.append(http.build_request("POST", "/slack/events", content=command, headers=signed))
    return [http.send(request).status_code for request in requests]


def break_the_store(database: Path) -> None:
    """Every table but the migration marker is renamed away: each route that reads or writes fails."""
    with sqlite3.connect(database, timeout=30) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if row[0] != "alembic_version" and not row[0].startswith("sqlite_")
        ]
        for table in tables:
            connection.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_gone"')


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(bot_token=SECRETS["SLACK_BOT_TOKEN"]).start()
    yield fake
    fake.stop()


@pytest.mark.parametrize("log_format", ["human", "json"])
def test_no_secret_reaches_the_log_when_every_route_fails(
    log_format: str, tmp_path: Path, slack: FakeSlack
) -> None:
    data_dir = tmp_path / "var"
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data_dir=data_dir, format=log_format, slack=slack.api_url))
    server = ServerProcess(config, env=SECRETS)
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as http:
            auth = {"authorization": f"Bearer {SECRETS['CONDUCTOR_ADMIN_TOKEN']}"}
            openapi = http.get("/api/openapi.json", headers=auth).json()
            working = call_every_route(http, openapi, slack.response_url())
            break_the_store(data_dir / "conductor.sqlite3")
            broken = call_every_route(http, openapi, slack.response_url())
        server.terminate()
    finally:
        server.stop()
    assert 202 in working and 200 in working
    assert 500 in broken or 503 in broken
    log = server.logs()
    found = {name: log.count(value) for name, value in leaked_shapes().items()}
    assert found == dict.fromkeys(found, 0), found
    tracebacks = log.count("Traceback (most recent call last)")
    assert tracebacks >= 3, log[-3000:]  # the failures were logged with their tracebacks
    if log_format == "json":
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        in_field = sum(
            str(line.get("exception", "")).count("Traceback (most recent call last)") for line in lines
        )
        assert in_field == tracebacks  # every traceback is kept, inside its line's "exception" field
