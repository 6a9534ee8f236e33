"""The web console in a real browser: Playwright driving headless Chromium (Debian's `chromium`,
`make browser` installs it) against `conductor serve` running as its own process, with AWS on moto.

A webhook arrives; the incident appears on the incidents page; its page shows the decision (the
reboot needs approval) and the pending run; a viewer who tries to approve is refused; an approver
approves and the run goes ahead — all with JavaScript off. /api/docs renders with every request
outside the server blocked.
Screenshots are kept under $CONDUCTOR_SCREENSHOTS (default var/screenshots, git-ignored).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import tomli_w

from tests.e2e.server import ServerProcess
from tests.fakes.moto_server import AWS_TEST_ENV, MotoServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = os.environ.get("CONDUCTOR_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("CONDUCTOR_SCREENSHOTS", Path(__file__).parents[2] / "var" / "screenshots"))
TOKENS = {"viewer": "browser-viewer-token", "approver": "browser-approver-token"}
REBOOT = "aws.ec2.reboot_instance"


def require_chromium() -> None:
    """Skip locally, fail in CI (CI=true), when the browser is not installed (`make browser`)."""
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return
    message = f"no Chromium at {CHROMIUM} (make browser installs Debian's chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + "; CI requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    server = MotoServer().start()
    for key, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def server(tmp_path: Path, aws: MotoServer) -> Iterator[ServerProcess]:
    config: dict[str, Any] = {
        "data_dir": str(tmp_path / "var"),
        "workers": {"threads": 2, "poll_interval_seconds": 0.05},
        "aws": {"region": "us-east-1"},
        "permissions": {
            "anonymous_read": ["docs"],
            "api_tokens": [
                {"name": "viewer", "secret_env": "TOKEN_VIEWER", "role": "viewer"},
                {"name": "approver", "secret_env": "TOKEN_APPROVER", "role": "approver"},
            ],
        },
        "approvals": {"approvers": {REBOOT: {"users": ["api:approver"]}}},
        "rules": [
            {
                "name": "reboot-stuck",
                "match": [{"name": "name", "value": "InstanceStuck"}],
                "runbook": REBOOT,
                "target": "aws:ec2:instance/{resource.id}",
            }
        ],
    }
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(config))
    env = {
        **AWS_TEST_ENV,
        "AWS_ENDPOINT_URL": aws.url,
        "TOKEN_VIEWER": TOKENS["viewer"],
        "TOKEN_APPROVER": TOKENS["approver"],
        "CONDUCTOR_CONSOLE_SECRET": "browser-test-signing-key",
    }
    process = ServerProcess(path, env=env, log=tmp_path / "serve.log").start()
    yield process
    process.stop()


@contextmanager
def browser_page(server: ServerProcess, *, javascript: bool) -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root cannot use Chromium's sandbox
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=javascript)
        # Nothing may come from anywhere but the server under test (no CDN).
        outside: list[str] = []

        def only_local(route: Any) -> None:
            if route.request.url.startswith(server.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        yield tab
        context.close()
        browser.close()
        assert outside == [], f"requests left the server: {outside}"


@pytest.fixture
def page(server: ServerProcess) -> Iterator[Any]:
    """The console is plain HTML: the whole walk-through runs with JavaScript off."""
    with browser_page(server, javascript=False) as tab:
        yield tab


@pytest.fixture
def js_page(server: ServerProcess) -> Iterator[Any]:
    """Swagger UI is a JavaScript application (served locally)."""
    with browser_page(server, javascript=True) as tab:
        yield tab


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, server: ServerProcess, who: str) -> None:
    page.goto(f"{server.url}/ui/")
    assert "/ui/login" in page.url
    page.fill("input[name=token]", TOKENS[who])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/ui/incidents")
    assert page.text_content("#who").startswith(f"api:{who}")


def reload_until(page: Any, selector: str, *texts: str, timeout: float = 45.0) -> str:
    """Reload until one of `texts` shows in `selector`; the text found."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.reload()
        content = page.text_content(selector) or ""
        for text in texts:
            if text in content:
                return text
        time.sleep(0.5)
    raise AssertionError(f"none of {texts} appeared in {selector}: {page.content()[:3000]}")


def test_incident_to_approval_in_a_real_browser(page: Any, server: ServerProcess) -> None:
    ec2 = boto3.client("ec2")
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    sign_in(page, server, "viewer")
    shot(page, "01-incidents-empty")
    alert = {
        "name": "InstanceStuck",
        "status": "firing",
        "severity": "critical",
        "summary": "status checks failing",
        "resource": {"provider": "aws", "type": "ec2:instance", "id": instance, "region": "us-east-1"},
    }
    assert httpx.post(f"{server.url}/webhooks/generic", json=alert, timeout=30).status_code == 202
    reload_until(page, "main", f"InstanceStuck on {instance}")
    shot(page, "02-incident-listed")

    page.click(f"text=InstanceStuck on {instance}")
    page.wait_for_url(f"{server.url}/ui/incidents/1")
    reload_until(page, "#decision", "needs_approval")
    assert REBOOT in page.text_content("main")
    assert "awaiting_approval" in page.text_content(".run-status")
    shot(page, "03-incident-needs-approval")

    page.goto(f"{server.url}/ui/approvals")
    page.click("#approvals button[value=approve]")
    assert "Not allowed" in page.text_content("h1")
    assert "api:viewer" in page.text_content(".error")
    shot(page, "04-viewer-refused")

    page.goto(f"{server.url}/ui/incidents")
    page.click("header form button[type=submit]")  # sign out
    page.wait_for_url(f"{server.url}/ui/login")
    sign_in(page, server, "approver")
    page.goto(f"{server.url}/ui/approvals")
    page.fill("#approvals input[name=reason]", "status checks failing for 10 minutes")
    page.click("#approvals button[value=approve]")
    assert "approved" in page.text_content(".notice")
    shot(page, "05-approved")

    page.goto(f"{server.url}/ui/incidents/1")
    # the reboot was sent: the run verifies (waits for the alert to clear) or has succeeded
    reload_until(page, ".run-status", "verifying", "succeeded")
    assert "RebootInstances" in page.text_content(".plan")
    timeline = page.text_content(".timeline")
    assert "approval" in timeline and "api:approver" in timeline
    shot(page, "06-incident-after-approval")


def test_api_docs_render_offline(js_page: Any, server: ServerProcess) -> None:
    js_page.goto(f"{server.url}/api/docs")
    js_page.wait_for_selector(".swagger-ui .info .title")
    assert "Cloud Conductor" in js_page.text_content(".swagger-ui .info .title")
    shot(js_page, "07-api-docs-offline")
