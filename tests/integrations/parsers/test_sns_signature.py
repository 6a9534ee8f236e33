"""SNS signature verification with real RSA keys and a self-signed certificate served by a fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.errors import IntegrationError, Unauthenticated
from integrations.aws.sns_signature import SnsSignatureVerifier, canonical_string
from tests.integrations.parsers.payloads import doc
from tests.sns_signing import CERT_URL, certificate_pem, new_key, sign

TOPIC = "arn:aws:sns:eu-west-1:123456789012:cloudwatch-alarms"


_key = new_key
_certificate_pem = certificate_pem


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return _key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return _key()


class CertServer:
    """Serves one certificate per URL and records what was fetched."""

    def __init__(self, certificates: dict[str, bytes]) -> None:
        self.certificates = certificates
        self.fetched: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.certificates[url]


@pytest.fixture
def cert_server(signing_key: rsa.RSAPrivateKey) -> CertServer:
    return CertServer({CERT_URL: _certificate_pem(signing_key)})


def notification() -> dict[str, Any]:
    message: dict[str, Any] = doc("cloudwatch_sns__single_metric_ecs_service_ALARM.json")
    return message


def confirmation() -> dict[str, Any]:
    message: dict[str, Any] = doc("aws_sns_https__subscription_confirmation_awsdocs.json")
    message["TopicArn"] = TOPIC
    message["SigningCertURL"] = CERT_URL
    return message


def test_canonical_string_for_a_notification() -> None:
    message = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "t",
        "Subject": "s",
        "Message": "hello\nworld",
        "Timestamp": "2024-01-01T00:00:00.000Z",
        "Signature": "x",
    }
    assert canonical_string(message) == (
        b"Message\nhello\nworld\nMessageId\nm-1\nSubject\ns\nTimestamp\n2024-01-01T00:00:00.000Z\n"
        b"TopicArn\nt\nType\nNotification\n"
    )
    del message["Subject"]
    assert b"Subject" not in canonical_string(message)


def test_canonical_string_for_a_confirmation_includes_token_and_subscribe_url() -> None:
    message = confirmation()
    fields = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    assert canonical_string(message) == "".join(f"{name}\n{message[name]}\n" for name in fields).encode()


@pytest.mark.parametrize("version", [pytest.param("1", id="v1-sha1"), pytest.param("2", id="v2-sha256")])
@pytest.mark.parametrize(
    "build", [pytest.param(notification, id="notification"), pytest.param(confirmation, id="confirmation")]
)
def test_valid_signatures_are_accepted(
    version: str, build: Callable[[], dict[str, Any]], signing_key: rsa.RSAPrivateKey, cert_server: CertServer
) -> None:
    verifier = SnsSignatureVerifier(
        topic_allowlist=["arn:aws:sns:*:123456789012:cloudwatch-*"], fetch_cert=cert_server
    )
    verifier.verify(sign(build(), signing_key, version))
    verifier.verify_body(json.dumps(sign(build(), signing_key, version)).encode())
    assert cert_server.fetched == [CERT_URL]  # fetched once, then cached


def test_notification_without_subject_is_accepted(
    signing_key: rsa.RSAPrivateKey, cert_server: CertServer
) -> None:
    message = notification()
    del message["Subject"]
    SnsSignatureVerifier(fetch_cert=cert_server).verify(sign(message, signing_key))


def _tampered(signing_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    message = sign(notification(), signing_key)
    message["Message"] = message["Message"].replace('"ALARM"', '"OK"')
    return message


def _subject_removed(signing_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    message = sign(notification(), signing_key)
    del message["Subject"]
    return message


def _version_swapped(signing_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    message = sign(notification(), signing_key, "1")
    message["SignatureVersion"] = "2"
    return message


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(_tampered, "SNS signature does not match the message", id="tampered-message"),
        pytest.param(_subject_removed, "SNS signature does not match the message", id="subject-removed"),
        pytest.param(_version_swapped, "SNS signature does not match the message", id="v1-signature-as-v2"),
        pytest.param(
            lambda key: {**sign(notification(), key), "Signature": "%%%"},
            "SNS Signature is not valid base64",
            id="garbage-signature",
        ),
        pytest.param(
            lambda key: {**sign(notification(), key), "SignatureVersion": "3"},
            "unsupported SNS SignatureVersion '3'",
            id="unknown-version",
        ),
        pytest.param(
            lambda key: {**sign(notification(), key), "Type": "Other"},
            "not an SNS message type that is signed",
            id="unknown-type",
        ),
        pytest.param(
            lambda key: {k: v for k, v in sign(notification(), key).items() if k != "Timestamp"},
            "SNS message field Timestamp is missing",
            id="missing-field",
        ),
    ],
)
def test_bad_messages_are_refused(
    make: Callable[[rsa.RSAPrivateKey], dict[str, Any]],
    reason: str,
    signing_key: rsa.RSAPrivateKey,
    cert_server: CertServer,
) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        SnsSignatureVerifier(fetch_cert=cert_server).verify(make(signing_key))


def test_signature_by_another_key_is_refused(other_key: rsa.RSAPrivateKey, cert_server: CertServer) -> None:
    with pytest.raises(Unauthenticated, match="does not match"):
        SnsSignatureVerifier(fetch_cert=cert_server).verify(sign(notification(), other_key))


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(CERT_URL.replace("https://", "http://"), id="http"),
        pytest.param("https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem", id="suffix-host"),
        pytest.param("https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem", id="foreign-host"),
        pytest.param("https://s3.eu-west-1.amazonaws.com/bucket/cert.pem", id="other-aws-service"),
        pytest.param("https://sns.eu-west-1.amazonaws.com@evil.example/cert.pem", id="userinfo-trick"),
        pytest.param("https://sns.eu-west-1.amazonaws.com:8443/cert.pem", id="odd-port"),
        pytest.param("https://sns.eu-west-1.amazonaws.com/?Action=cert", id="not-a-pem"),
        pytest.param("", id="missing"),
    ],
)
def test_untrusted_certificate_urls_are_refused_before_fetching(
    url: str, signing_key: rsa.RSAPrivateKey, cert_server: CertServer
) -> None:
    message = sign({**notification(), "SigningCertURL": url}, signing_key)
    with pytest.raises(Unauthenticated, match="SigningCertURL"):
        SnsSignatureVerifier(fetch_cert=cert_server).verify(message)
    assert cert_server.fetched == []


def test_china_partition_host_is_allowed(signing_key: rsa.RSAPrivateKey) -> None:
    url = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem"
    server = CertServer({url: _certificate_pem(signing_key)})
    SnsSignatureVerifier(fetch_cert=server).verify(
        sign({**notification(), "SigningCertURL": url}, signing_key)
    )


def test_topic_not_in_the_allow_list_is_refused_before_fetching(
    signing_key: rsa.RSAPrivateKey, cert_server: CertServer
) -> None:
    verifier = SnsSignatureVerifier(topic_allowlist=["arn:aws:sns:*:999999999999:*"], fetch_cert=cert_server)
    with pytest.raises(Unauthenticated, match="not in the allow-list"):
        verifier.verify(sign(notification(), signing_key))
    assert cert_server.fetched == []


def test_empty_allow_list_accepts_any_topic_but_logs(
    signing_key: rsa.RSAPrivateKey, cert_server: CertServer, caplog: pytest.LogCaptureFixture
) -> None:
    SnsSignatureVerifier(fetch_cert=cert_server).verify(sign(notification(), signing_key))
    assert "allow-list is empty" in caplog.text
    assert TOPIC in caplog.text


def test_certificate_cache_is_bounded(signing_key: rsa.RSAPrivateKey) -> None:
    urls = [f"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-{n}.pem" for n in range(3)]
    pem = _certificate_pem(signing_key)
    server = CertServer(dict.fromkeys(urls, pem))
    verifier = SnsSignatureVerifier(fetch_cert=server, cache_size=2)
    for url in [*urls, urls[0]]:
        verifier.verify(sign({**notification(), "SigningCertURL": url}, signing_key))
    assert server.fetched == [urls[0], urls[1], urls[2], urls[0]]  # urls[0] was evicted


def test_unreachable_certificate_is_retryable_not_unauthenticated(signing_key: rsa.RSAPrivateKey) -> None:
    def down(url: str) -> bytes:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(IntegrationError) as caught:
        SnsSignatureVerifier(fetch_cert=down).verify(sign(notification(), signing_key))
    assert caught.value.retryable is True


def test_certificate_that_is_not_pem_is_refused(signing_key: rsa.RSAPrivateKey) -> None:
    server = CertServer({CERT_URL: b"<html>not a certificate</html>"})
    with pytest.raises(Unauthenticated, match="did not return a PEM certificate"):
        SnsSignatureVerifier(fetch_cert=server).verify(sign(notification(), signing_key))


def test_body_that_is_not_json_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated, match="not an SNS message"):
        SnsSignatureVerifier().verify_body(b"hello")
