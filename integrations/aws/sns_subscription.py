"""SNS over HTTPS: confirming a subscription, and the signing certificates cached on disk.

Both fetch from AWS only after checking the URL is an Amazon SNS endpoint over HTTPS.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bot.errors import Unauthenticated
from integrations.aws.sns_signature import check_signing_cert_url, fetch_with_httpx

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")


def check_subscribe_url(url: str) -> str:
    """A SubscribeURL must be an https SNS endpoint; we never fetch anything else."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not _SNS_HOST.match((parts.hostname or "").lower()) or parts.username:
        raise Unauthenticated(f"SubscribeURL {parts.scheme}://{parts.hostname} is not an Amazon SNS endpoint")
    return url


class CachedCertFetcher:
    """SNS signing certificates, cached on disk under the data dir (keyed by URL)."""

    def __init__(self, directory: Path, fetch: Callable[[str], bytes] | None = None) -> None:
        self._dir = directory
        self._fetch = fetch or fetch_with_httpx

    def path_for(self, url: str) -> Path:
        return self._dir / f"{hashlib.sha256(url.encode()).hexdigest()}.pem"

    def __call__(self, url: str) -> bytes:
        check_signing_cert_url(url)
        path = self.path_for(url)
        if path.is_file():
            return path.read_bytes()
        pem = self._fetch(url)
        self._dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pem)
        tmp.replace(path)
        return pem


def confirm_subscription(url: str) -> None:
    """GET a checked SubscribeURL: this confirms the subscription with SNS."""
    check_subscribe_url(url)
    httpx.get(url, timeout=10, follow_redirects=False).raise_for_status()
