"""Outside systems only behind `integrations/`: the Slack, AWS, Azure, Google, Jira and PagerDuty
SDKs — and httpx, the client the bot would reach them with — are imported nowhere else among our
packages. Every import counts: at module level, under TYPE_CHECKING and inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.structure.walk import ROOT

SDKS = (
    "slack_sdk",
    "slack_bolt",
    "boto3",
    "botocore",
    "mypy_boto3",  # boto3's type stubs: a client type is a client import
    "azure",
    "google",  # google.cloud, google.api_core, google.auth, google.protobuf
    "grpc",
    "jira",
    "pagerduty",
    "httpx",
    "requests",
)
CHECKED = ("bot", "detectors", "runbooks")  # integrations/ is where they belong; tests and
# benchmarks drive the real SDKs against fakes on purpose
# Files that may, by name, and why. Each is a test double for users, never the outside system.
ALLOWED = {
    "bot/runbook_testing/moto.py": "`conductor runbooks test` runs a local moto server, boto3 pointed at it",
    "bot/demo.py": "`make demo` drives `conductor serve` over HTTP as a user would (the AWS is moto)",
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def is_sdk(module: str) -> bool:
    return any(module == sdk or module.startswith((f"{sdk}.", f"{sdk}_")) for sdk in SDKS)


def sources() -> list[Path]:
    return sorted(p for package in CHECKED for p in (ROOT / package).rglob("*.py"))


def test_every_allowance_names_a_file_that_imports_an_sdk() -> None:
    for name in ALLOWED:
        assert any(is_sdk(module) for _, module in imported_modules(ROOT / name)), f"stale: {name}"


def test_the_check_recognises_sdk_imports_in_every_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "import slack_sdk.web\n"
        "if TYPE_CHECKING:\n    from mypy_boto3_ecs.client import ECSClient\n"
        "def f():\n    from google.cloud import monitoring_v3\n    import httpx\n"
        "import googleapiclient_not_ours as g\nfrom bot.errors import IntegrationError\n"
    )
    sdk = [module for _, module in imported_modules(sample) if is_sdk(module)]
    assert sdk == ["slack_sdk.web", "mypy_boto3_ecs.client", "google.cloud", "httpx"]


@pytest.mark.parametrize("path", sources(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_sdk_outside_integrations(path: Path) -> None:
    if path.relative_to(ROOT).as_posix() in ALLOWED:
        return
    offending = [f"line {line}: {module}" for line, module in imported_modules(path) if is_sdk(module)]
    assert offending == [], f"{path.relative_to(ROOT)} reaches an outside system directly"
