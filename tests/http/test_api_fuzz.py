"""Schema-driven fuzz of the /api routes (schemathesis, from the app's own OpenAPI document):
whatever is sent, the answer is never a 5xx. Authenticated, so the state-changing routes are
reached too. The suite's small version; the figures in docs/security.md come from the same
check run longer (`schemathesis run`, command there)."""

from __future__ import annotations

from collections import Counter
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
# An admin token (every route is reached past its permission check), and approvers for every risk,
# so approvals are decided rather than refused for want of approvers. The OpenAPI document itself
# is read anonymously, as schemathesis loads it without headers.
SETTINGS = {
    "ingest": {"intake": "inline"},
    "permissions": {
        "anonymous_read": ["docs"],
        "api_tokens": [{"name": "fuzz", "secret_env": "CONDUCTOR_FUZZ_TOKEN", "role": "admin"}],
    },
    "approvals": {"approvers": {f"risk:{r}": {"role": "admin"} for r in ("low", "medium", "high")}},
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("CONDUCTOR_FUZZ_TOKEN", TOKEN)
    runtime = make_runtime(Path(tmp_path_factory.mktemp("fuzz")), **SETTINGS)
    application = create_app(runtime, background=False)
    with TestClient(application):  # runs the lifespan (no workers: background=False)
        yield application
    runtime.store.dispose()
    monkeypatch.undo()


def fuzz(app: FastAPI, *, examples: int) -> tuple[Counter[int], list[str]]:
    """Every operation of the app's OpenAPI document, `examples` generated cases each, sent with
    an admin token; (requests sent by status code, the cases answered 5xx)."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    sent: Counter[int] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def one(case: schemathesis.Case) -> None:
            response = case.call(headers={"authorization": f"Bearer {TOKEN}"})
            sent[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}")

        one()
    return sent, failures


def test_no_route_of_the_openapi_document_answers_5xx(app: FastAPI) -> None:
    sent, failures = fuzz(app, examples=25)
    assert sum(sent.values()) >= 100
    assert failures == []
    # the check reaches the handlers: not every case stops at authentication or validation
    assert sum(n for code, n in sent.items() if 200 <= code < 300) >= 20
    assert sent[401] == 0 and sent[403] == 0
