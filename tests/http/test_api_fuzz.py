"""Schema-driven fuzz of the /api routes (schemathesis, from the app's own OpenAPI document):
whatever is sent, the answer is never a 5xx. Authenticated, so the state-changing routes are
reached too. The suite's small version; the figures in docs/security.md come from the same
check run longer (`schemathesis run`, command there)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from bot.http.app import create_app
from tests.http.conftest import make_runtime

TOKEN = "fuzz-api-token"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("CONDUCTOR_API_TOKEN", TOKEN)
    runtime = make_runtime(Path(tmp_path_factory.mktemp("fuzz")), ingest={"intake": "inline"})
    application = create_app(runtime, background=False)
    with TestClient(application):  # runs the lifespan (no workers: background=False)
        yield application
    runtime.store.dispose()
    monkeypatch.undo()


def fuzz(app: FastAPI, *, examples: int) -> tuple[int, list[str]]:
    """Every operation of the app's OpenAPI document, `examples` generated cases each, sent with
    a valid token; (requests sent, the cases answered 5xx)."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    sent = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def one(case: schemathesis.Case) -> None:
            nonlocal sent
            response = case.call(headers={"authorization": f"Bearer {TOKEN}", "x-conductor-user": "fuzz"})
            sent += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}")

        one()
    return sent, failures


def test_no_route_of_the_openapi_document_answers_5xx(app: FastAPI) -> None:
    sent, failures = fuzz(app, examples=25)
    assert sent >= 100
    assert failures == []
