"""SNS SubscriptionConfirmation: confirmed by fetching SubscribeURL only after the signature and the
TopicArn allow-list pass; unauthenticated confirmations store nothing and fetch nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.audit import list_audit
from bot.config.loader import parse_settings
from bot.http.app import create_app
from bot.runtime import build_runtime
from bot.store.models import RawEvent
from tests.sns_signing import certificate_pem, new_key, seed_certificate, sign

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "payloads"
    / "aws_sns_https__subscription_confirmation_awsdocs.json"
)
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"


def confirmation(topic: str) -> dict[str, Any]:
    message = json.loads(FIXTURE.read_text())
    message["TopicArn"] = topic
    message.pop("Signature", None)
    message.pop("SigningCertURL", None)
    return message


def test_confirmation_is_fetched_only_for_signed_allowed_topics(data_dir: Path) -> None:
    key = new_key()
    seed_certificate(data_dir, certificate_pem(key))
    confirmed: list[str] = []
    settings = parse_settings(
        {
            "data_dir": str(data_dir),
            "workers": {"poll_interval_seconds": 0.05},
            "ingest": {"auth": {"cloudwatch": {"mode": "sns", "allowed_topic_arns": [TOPIC]}}},
        },
        {},
    )
    runtime = build_runtime(settings, confirm_subscription=confirmed.append)
    headers = {
        "content-type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": "SubscriptionConfirmation",
    }
    with TestClient(create_app(runtime)) as client:
        other_topic = sign(confirmation("arn:aws:sns:us-west-2:123456789012:Other"), key)
        assert (
            client.post("/webhooks/cloudwatch", content=json.dumps(other_topic), headers=headers).status_code
            == 401
        )
        forged = sign(confirmation(TOPIC), new_key())
        assert (
            client.post("/webhooks/cloudwatch", content=json.dumps(forged), headers=headers).status_code
            == 401
        )
        good = sign(confirmation(TOPIC), key)
        response = client.post("/webhooks/cloudwatch", content=json.dumps(good), headers=headers)
        assert response.status_code == 202 and response.json()["kind"] == "subscription_confirmation"
        deadline = time.monotonic() + 10
        while not confirmed and time.monotonic() < deadline:
            time.sleep(0.05)
    assert confirmed == [good["SubscribeURL"]]
    with runtime.store.sessions() as session:
        assert len(session.scalars(select(RawEvent)).all()) == 1
        actions = [e.action for e in list_audit(session, limit=50)]
    assert "sns.subscription_confirmed" in actions


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
        "https://evil.example.com/?Action=ConfirmSubscription",
    ],
)
def test_subscribe_url_must_be_an_https_sns_endpoint(url: str) -> None:
    from bot.errors import Unauthenticated
    from integrations.aws.sns_subscription import check_subscribe_url

    with pytest.raises(Unauthenticated):
        check_subscribe_url(url)


@pytest.mark.parametrize("intake", ["process", "inline"])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'{"Type": "Notification", "Message": "not an alarm"}', id="unsigned-unreadable-message"
        ),
        pytest.param(b"not json at all", id="not-json"),
        pytest.param(b'{"Type": "Notification", "Message": ' + b"[" * 2000 + b"]" * 2000 + b"}", id="deep"),
    ],
)
def test_an_unsigned_body_is_refused_before_it_is_read_and_stores_nothing(
    data_dir: Path, intake: str, body: bytes
) -> None:
    """The signature is checked first: a 401, no raw event, no dead letter (nothing an
    unauthenticated sender can make us keep)."""
    from bot.store.models import DeadLetter

    settings = parse_settings(
        {
            "data_dir": str(data_dir),
            "ingest": {
                "intake": intake,
                "auth": {"cloudwatch": {"mode": "sns", "allowed_topic_arns": [TOPIC]}},
            },
        },
        {},
    )
    runtime = build_runtime(settings)
    headers = {"content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}
    with TestClient(create_app(runtime)) as client:
        response = client.post("/webhooks/cloudwatch", content=body, headers=headers)
    assert response.status_code == 401, response.text
    with runtime.store.sessions() as session:
        assert session.scalars(select(RawEvent)).all() == []
        assert session.scalars(select(DeadLetter)).all() == []
    runtime.store.dispose()
