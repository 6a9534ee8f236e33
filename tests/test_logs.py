"""Structured logs: JSON on request, a request id on every line of a request, secrets redacted."""

from __future__ import annotations

import base64
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


def _fails_with_secrets_in_locals(header: str) -> None:
    authorization = f"Bearer {header}"  # a local variable a rich traceback would print
    headers = {"authorization": authorization, "x-api-key": header}
    raise RuntimeError(f"could not handle a request with {len(headers)} headers")


@pytest.mark.parametrize("use_json", [False, True], ids=["human", "json"])
def test_tracebacks_have_no_locals_and_are_kept_redacted(
    use_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "tok-6d1f0c3b9a"
    configure_logging(level="info", json=use_json)
    try:
        try:
            _fails_with_secrets_in_locals(secret)
        except RuntimeError:
            get_logger("test").error("request failed", exc_info=True)
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        err = capsys.readouterr().err
    finally:
        configure_logging(level="info", json=False)
    assert secret not in err
    assert err.count("Traceback (most recent call last)") == 2
    assert err.count("RuntimeError: could not handle a request with 2 headers") == 2
    if use_json:
        lines = [json.loads(line) for line in err.strip().splitlines()]
        assert all("_fails_with_secrets_in_locals" in line["exception"] for line in lines)


def test_configured_secret_values_are_redacted_wherever_they_appear(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.config.loader import parse_settings
    from bot.config.secrets import configured_secret_values
    from bot.logs import register_secrets

    settings = parse_settings(
        {
            "ingest": {"auth": {"generic": {"mode": "basic", "secret_env": "GENERIC_USERS"}}},
            "pagerduty": {"routing_keys": {"ops": "PD_KEY_OPS"}},
            "database": {"url": "postgresql+psycopg://conductor:db-pa55word@db/conductor"},
        },
        {},
    )
    env = {
        "GENERIC_USERS": "ops:basic-pa55,other:second-pa55",
        "PD_KEY_OPS": "plainvalue42",  # no shape a pattern would recognise
        "CONDUCTOR_API_TOKEN": "apitoken-77",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
    }
    values = configured_secret_values(settings, env)
    basic = base64.b64encode(b"ops:basic-pa55").decode()
    assert {"basic-pa55", basic, "second-pa55", "plainvalue42", "apitoken-77", "wJalrXUtnFEMI"} <= values
    assert "db-pa55word" in values
    register_secrets(values)
    configure_logging(level="info", json=True)
    try:
        get_logger("test").warning("sent plainvalue42", detail=f"hdr {basic} api apitoken-77")
        logging.getLogger("sdk").error("key wJalrXUtnFEMI refused for second-pa55")
        err = capsys.readouterr().err
    finally:
        configure_logging(level="info", json=False)
    for value in values:
        assert value not in err
    assert err.count("[REDACTED]") == 5


def test_an_uncaught_exception_in_a_thread_is_logged_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    from bot.logs import register_secrets

    register_secrets(["thread-secret-99"])
    configure_logging(level="info", json=True)
    try:
        thread = threading.Thread(target=_fails_with_secrets_in_locals, args=("thread-secret-99",))
        thread.start()
        thread.join()
        err = capsys.readouterr().err
    finally:
        configure_logging(level="info", json=False)
    [line] = [json.loads(x) for x in err.strip().splitlines()]
    assert line["event"].startswith("uncaught exception in thread") and "Traceback" in line["exception"]
    assert "thread-secret-99" not in err


def test_configuring_again_keeps_cached_loggers_on_the_live_processors() -> None:
    """A logger cached on first use keeps the processor list it was built with; configuring again
    (the CLI, then `serve`; one test after another) must refill that list, not replace it, or
    capture_logs and any later change of processors would miss that logger's events."""
    from structlog.testing import capture_logs

    from bot.logs import configure_logging, get_logger

    log = get_logger("tests.cached_on_first_use")
    configure_logging(level="warning")
    log.warning("cached now")
    configure_logging(level="warning")
    with capture_logs() as logs:
        log.error("after configuring again")
    assert [e["event"] for e in logs] == ["after configuring again"]
