"""Every webhook authentication mode, as a real `conductor serve` in both intake modes.

One server per intake mode carries every mode at once (one source each): `check-config` accepts
the file, `serve` starts on it, each source takes a request that proves itself (202) and refuses
a forged one (401, nothing stored: no raw event, no dead letter).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.store.db import Store
from bot.store.models import DeadLetter, RawEvent
from tests.e2e.server import ServerProcess
from tests.sns_signing import certificate_pem, new_key, notification, seed_certificate

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:conductor-alarms"
SECRETS = {
    "AM_BEARER": "bearer-secret-4f1c9a",
    "GENERIC_BASIC": "ops:basic-secret-77d2",
    "PD_SECRET": "pd-secret-0b3e",
    "GRAFANA_SECRET": "grafana-secret-a91f",
}
CONFIG = """
data_dir = "{data_dir}"
[ingest]
intake = "{intake}"
allow_unauthenticated = false
[ingest.auth.alertmanager]
mode = "bearer"
secret_env = "AM_BEARER"
[ingest.auth.generic]
mode = "basic"
secret_env = "GENERIC_BASIC"
[ingest.auth.cloudwatch]
mode = "sns"
allowed_topic_arns = ["arn:aws:sns:*:123456789012:conductor-*"]
[ingest.auth.pagerduty]
mode = "pagerduty"
secret_env = "PD_SECRET"
[ingest.auth.grafana]
mode = "grafana"
secret_env = "GRAFANA_SECRET"
[ingest.auth.datadog]
mode = "none"
[workers]
threads = 1
"""

Headers = dict[str, str]


@dataclass(frozen=True)
class Mode:
    """One auth mode: the source it guards, a body, and headers that prove it (or forge it)."""

    name: str
    source: str
    body: bytes
    valid: Callable[[bytes], Headers]
    forged: Callable[[bytes], Headers]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def basic(credentials: str) -> Headers:
    return {"authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


SNS_KEY = new_key()


def sns_body(key: object) -> bytes:
    alarm = json.loads(fixture("cloudwatch_sns__single_metric_ecs_service_ALARM.json"))
    message = json.loads(alarm["Message"]) if "Message" in alarm else alarm
    return json.dumps(notification(message, topic=TOPIC, key=key)).encode()  # type: ignore[arg-type]


SNS_HEADERS = {"content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}

MODES = [
    Mode(
        "bearer",
        "alertmanager",
        fixture("alertmanager__mixed_group_k8s_replica_a.json"),
        lambda _b: {"authorization": f"Bearer {SECRETS['AM_BEARER']}"},
        lambda _b: {"authorization": "Bearer not-the-token"},
    ),
    Mode(
        "basic",
        "generic",
        fixture("generic__single_firing.json"),
        lambda _b: basic(SECRETS["GENERIC_BASIC"]),
        lambda _b: basic("ops:wrong-password"),
    ),
    Mode("sns", "cloudwatch", sns_body(SNS_KEY), lambda _b: SNS_HEADERS, lambda _b: SNS_HEADERS),
    Mode(
        "pagerduty",
        "pagerduty",
        fixture("pagerduty_webhook_v3__incident.triggered.json"),
        lambda b: {"x-pagerduty-signature": "v1=" + hmac_hex(SECRETS["PD_SECRET"], b)},
        lambda b: {"x-pagerduty-signature": "v1=" + hmac_hex("another-secret", b)},
    ),
    Mode(
        "grafana",
        "grafana",
        fixture("grafana_unified_alerting__firing_and_resolved_values.json"),
        lambda b: {"x-grafana-alerting-signature": hmac_hex(SECRETS["GRAFANA_SECRET"], b)},
        lambda b: {"x-grafana-alerting-signature": hmac_hex("another-secret", b)},
    ),
    Mode(
        "none",
        "datadog",
        fixture("datadog_webhook__Triggered.json"),
        lambda _b: {},
        # `none` accepts anyone by design; what must hold is that an unconfigured source does not.
        lambda _b: {},
    ),
]
FORGED_SNS = sns_body(new_key())  # a well-formed message signed with a key that is not Amazon's


def counts(data_dir: Path) -> tuple[int, int]:
    store = Store.connect(f"sqlite:///{data_dir / 'conductor.sqlite3'}")
    try:
        with store.sessions() as session:
            raw = session.scalar(select(func.count()).select_from(RawEvent))
            dead = session.scalar(select(func.count()).select_from(DeadLetter))
        return int(raw or 0), int(dead or 0)
    finally:
        store.dispose()


@pytest.fixture(params=["process", "inline"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    data_dir = tmp_path / "var"
    seed_certificate(data_dir, certificate_pem(SNS_KEY))
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data_dir=data_dir, intake=request.param))
    checked = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**ServerProcess(config).env, **SECRETS},
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    process = ServerProcess(config, env=SECRETS)
    process.start()  # a configuration check-config accepts must start
    yield process
    process.stop()


def test_every_auth_mode_starts_and_tells_valid_from_forged(server: ServerProcess) -> None:
    data_dir = server.config.parent / "var"
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for mode in MODES:
            if mode.name == "none":
                continue
            forged_body = FORGED_SNS if mode.name == "sns" else mode.body
            before = counts(data_dir)
            headers = {"content-type": "application/json", **mode.forged(forged_body)}
            forged = http.post(f"/webhooks/{mode.source}", content=forged_body, headers=headers)
            assert forged.status_code == 401, (mode.name, forged.text)
            assert counts(data_dir) == before, f"{mode.name}: a forged request stored something"
        # a source with no [ingest.auth] entry is closed when allow_unauthenticated is false
        azure = http.post(
            "/webhooks/azure",
            content=fixture("azure_monitor__metric_alert_app_service_http5xx_Fired.json"),
            headers={"content-type": "application/json"},
        )
        assert azure.status_code == 401
        assert counts(data_dir) == (0, 0)
        for mode in MODES:
            headers = {"content-type": "application/json", **mode.valid(mode.body)}
            accepted = http.post(f"/webhooks/{mode.source}", content=mode.body, headers=headers)
            assert accepted.status_code == 202, (mode.name, accepted.text)
            assert accepted.json()["duplicate"] is False
    assert counts(data_dir) == (len(MODES), 0)
