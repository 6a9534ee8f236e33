"""moto in server mode on 127.0.0.1:0; boto3 reaches it through AWS_ENDPOINT_URL.

The same server the runbook-testing helper gives users (`bot.runbook_testing.moto`).
"""

from __future__ import annotations

from bot.runbook_testing.moto import AWS_TEST_ENV, MotoServer, moto_server

__all__ = ["AWS_TEST_ENV", "MotoServer", "moto_server"]
