"""Real SNS signatures for tests: an RSA key, a self-signed certificate, signed envelopes."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from integrations.aws.sns_signature import canonical_string
from integrations.aws.sns_subscription import CachedCertFetcher

CERT_URL = (
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem"
)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate_pem(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def sign(message: dict[str, Any], key: rsa.RSAPrivateKey, version: str = "1") -> dict[str, Any]:
    signed = dict(message, SignatureVersion=version, SigningCertURL=message.get("SigningCertURL", CERT_URL))
    algorithm: hashes.HashAlgorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
    signature = key.sign(canonical_string(signed), padding.PKCS1v15(), algorithm)
    signed["Signature"] = base64.b64encode(signature).decode()
    return signed


def notification(
    alarm: dict[str, Any],
    *,
    topic: str,
    key: rsa.RSAPrivateKey,
    message_id: str | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """A signed SNS Notification carrying a CloudWatch alarm, as SNS POSTs it over HTTPS."""
    envelope = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic,
        "Subject": subject or f'{alarm["NewStateValue"]}: "{alarm["AlarmName"]}" in US East (N. Virginia)',
        "Message": json.dumps(alarm),
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
    }
    return sign(envelope, key, version="2")


def seed_certificate(data_dir: Path, pem: bytes, url: str = CERT_URL) -> None:
    """Put the certificate where the server's on-disk certificate cache looks for it."""
    fetcher = CachedCertFetcher(data_dir / "sns-certs")
    path = fetcher.path_for(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem)
