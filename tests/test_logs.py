"""Structured logs: JSON on request, a request id on every line of a request, secrets redacted."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import configure_logging, get_logger, redact_text, request_id_var


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        pytest.param("token xoxb-123456789-abcdefghij", "xoxb-123456789", id="slack-token"),
        pytest.param("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload", "eyJhbGci", id="bearer"),
        pytest.param("postgresql://app:hunter2@db/x", "hunter2", id="url-password"),
        pytest.param("routing_key=R0123456789abcdef", "R0123456789abcdef", id="routing-key"),
        pytest.param("key AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP", id="aws-key-id"),
    ],
)
def test_secrets_are_redacted(text: str, leak: str) -> None:
    assert leak not in redact_text(text)


def test_json_lines_carry_request_id_and_redact(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="info", json=True)
    token = request_id_var.set("req-42")
    try:
        get_logger("test").info("calling slack", token="xoxb-1111-secret", url="https://x/?a=1")
        logging.getLogger("sdk").warning("sdk said Bearer abcdefghijklmnop")
    finally:
        request_id_var.reset(token)
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert [line["request_id"] for line in lines] == ["req-42", "req-42"]
    assert lines[0]["token"] == "[REDACTED]" and lines[0]["event"] == "calling slack"
    assert "abcdefghijklmnop" not in lines[1]["event"]
    configure_logging(level="info", json=False)
