"""One throwaway certificate authority per test session, for SDKs that insist on HTTPS."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TestTLS:
    __test__ = False  # not a test class, despite the name
    ca: trustme.CA
    ca_path: Path  # PEM bundle to hand to clients (connection_verify=..., verify=...)
    server_context: ssl.SSLContext  # for servers on 127.0.0.1 / localhost


def make_tls(directory: Path) -> TestTLS:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = directory / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return TestTLS(ca=ca, ca_path=ca_path, server_context=context)
