"""Verify that an SNS HTTPS delivery really comes from Amazon SNS, for an expected topic.

Order of checks (cheap and local first, network last):

1. ``Type`` is Notification, SubscriptionConfirmation or UnsubscribeConfirmation;
   ``SignatureVersion`` is 1 (SHA1withRSA) or 2 (SHA256withRSA).
2. ``TopicArn`` matches the allow-list (``fnmatch`` patterns such as
   ``arn:aws:sns:*:123456789012:alarms-*``). An *empty* allow-list allows every topic and logs a
   warning for each message: signatures alone prove "some SNS topic", not "our topic".
3. ``SigningCertURL`` is ``https://sns.<region>.amazonaws.com[.cn]/....pem`` with no user info
   and no port other than 443, checked *before* anything is fetched.
4. The certificate is fetched (httpx by default; a fetcher is injected in tests), cached in memory
   by URL (bounded LRU), and its RSA key verifies the signature over the canonical string built
   exactly as AWS documents: for Notification ``Message, MessageId, Subject (only if present),
   Timestamp, TopicArn, Type``; for the confirmations ``Message, MessageId, SubscribeURL,
   Timestamp, Token, TopicArn, Type``; each as ``Key\\nValue\\n``.

Failures raise `Unauthenticated` with the reason. A certificate that cannot be *downloaded*
raises `IntegrationError(retryable=True)` instead, so the sender is told to retry (5xx) rather
than that it is an impostor. Raw message delivery (no envelope) carries no signature and cannot
be verified here: protect that endpoint with `check_basic`/`check_bearer`.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bot.errors import IntegrationError, Unauthenticated

log = logging.getLogger(__name__)

CertFetcher = Callable[[str], bytes]

_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_FIELDS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "Notification": _NOTIFICATION_FIELDS,
    "SubscriptionConfirmation": _CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": _CONFIRMATION_FIELDS,
}
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1": hashes.SHA1,
    "2": hashes.SHA256,
}
_CERT_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")


def canonical_string(message: Mapping[str, Any]) -> bytes:
    """The string SNS signs, per message type. Raises Unauthenticated if a field is missing."""
    message_type = message.get("Type")
    fields = _FIELDS_BY_TYPE.get(message_type) if isinstance(message_type, str) else None
    if fields is None:
        raise Unauthenticated(f"not an SNS message type that is signed: {message_type!r}")
    parts: list[str] = []
    for name in fields:
        value = message.get(name)
        if name == "Subject" and value is None:
            continue  # only part of the string when present
        if not isinstance(value, str):
            raise Unauthenticated(f"SNS message field {name} is missing, cannot check the signature")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")


def check_signing_cert_url(url: Any) -> str:
    """Refuse any certificate location that is not an SNS endpoint over HTTPS (before fetching)."""
    if not isinstance(url, str) or not url:
        raise Unauthenticated("SigningCertURL is missing")
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise Unauthenticated("SigningCertURL must use https")
    host = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None:
        raise Unauthenticated("SigningCertURL must not carry credentials")
    if not _CERT_HOST.match(host) or (parts.port not in (None, 443)):
        raise Unauthenticated(f"SigningCertURL host {host!r} is not an Amazon SNS endpoint")
    if not parts.path.endswith(".pem"):
        raise Unauthenticated("SigningCertURL does not name a .pem certificate")
    return url


def fetch_with_httpx(url: str) -> bytes:
    """Download a certificate; redirects are not followed (the checked URL is the one used)."""
    response = httpx.get(url, timeout=10.0, follow_redirects=False)
    response.raise_for_status()
    return response.content


class SnsSignatureVerifier:
    """Verifies SNS messages; safe to share between threads. Build one per configured source."""

    def __init__(
        self,
        *,
        topic_allowlist: Sequence[str] = (),
        fetch_cert: CertFetcher = fetch_with_httpx,
        cache_size: int = 16,
    ) -> None:
        self._topics = tuple(topic_allowlist)
        self._fetch = fetch_cert
        self._cache_size = max(1, cache_size)
        self._keys: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
        self._lock = threading.Lock()

    def verify_body(self, body: bytes) -> dict[str, Any]:
        """Verify a raw request body; returns the decoded SNS message."""
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):  # not UTF-8, not JSON, too deep, too many digits
            raise Unauthenticated("body is not an SNS message (not JSON)") from None
        if not isinstance(message, dict):
            raise Unauthenticated("body is not an SNS message (not a JSON object)")
        self.verify(message)
        return message

    def verify(self, message: Mapping[str, Any]) -> None:
        """Raise Unauthenticated unless `message` is signed by SNS for an allowed topic."""
        version = message.get("SignatureVersion")
        algorithm = _HASHES.get(version) if isinstance(version, str) else None
        if algorithm is None:
            raise Unauthenticated(f"unsupported SNS SignatureVersion {version!r} (expected 1 or 2)")
        signed = canonical_string(message)
        self._check_topic(message.get("TopicArn"))
        url = check_signing_cert_url(message.get("SigningCertURL"))
        raw_signature = message.get("Signature")
        if not isinstance(raw_signature, str) or not raw_signature:
            raise Unauthenticated("SNS message has no Signature")
        try:
            signature = base64.b64decode(raw_signature, validate=True)
        except (binascii.Error, ValueError):
            raise Unauthenticated("SNS Signature is not valid base64") from None
        key = self._public_key(url)
        try:
            key.verify(signature, signed, padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise Unauthenticated("SNS signature does not match the message") from None

    def _check_topic(self, topic_arn: Any) -> None:
        if not isinstance(topic_arn, str) or not topic_arn:
            raise Unauthenticated("SNS message has no TopicArn")
        if not self._topics:
            log.warning("sns topic allow-list is empty; accepting topic %s", topic_arn)
            return
        if not any(fnmatch.fnmatchcase(topic_arn, pattern) for pattern in self._topics):
            raise Unauthenticated(f"SNS topic {topic_arn} is not in the allow-list")

    def _public_key(self, url: str) -> rsa.RSAPublicKey:
        with self._lock:
            cached = self._keys.get(url)
            if cached is not None:
                self._keys.move_to_end(url)
                return cached
        try:
            pem = self._fetch(url)
        except httpx.HTTPError as exc:
            raise IntegrationError(
                f"could not download the SNS signing certificate: {exc}", retryable=True, system="sns"
            ) from exc
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise Unauthenticated("SigningCertURL did not return a PEM certificate") from None
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise Unauthenticated("SNS signing certificate does not hold an RSA key")
        with self._lock:
            self._keys[url] = key
            self._keys.move_to_end(url)
            while len(self._keys) > self._cache_size:
                self._keys.popitem(last=False)
        return key
