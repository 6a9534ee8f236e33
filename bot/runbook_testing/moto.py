"""moto in server mode on 127.0.0.1 (a free port), for testing runbooks with the real boto3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

# Dummy credentials and a region: boto3 needs them, moto accepts anything.
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # moto loads ~1,300 default AMIs after every reset otherwise (~2 s a test)
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


class MotoServer:
    """`start()` moto's threaded server; `url` is what AWS_ENDPOINT_URL should be."""

    def __init__(self) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:  # moto is a test dependency, not a runtime one
            raise RuntimeError(
                "runbook tests need moto: pip install 'moto[server]' (or cloud-conductor[dev])"
            ) from exc
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def reset(self) -> None:
        """Forget every resource (between tests)."""
        httpx.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        self._server.stop()

    def environ(self) -> dict[str, str]:
        """The variables that point boto3 at this server."""
        return {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": self.url}

    def client(self, service: str) -> Any:
        """A plain boto3 client on this server, for setting up resources in a test."""
        import boto3

        make: Any = boto3.client  # any service name: the stubs' overloads only know literal names
        return make(
            service,
            endpoint_url=self.url,
            region_name=AWS_TEST_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        )


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()
