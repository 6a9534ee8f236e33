"""Regex matchers run in linear time (RE2, Alertmanager's own regex dialect): a pattern such as
`(a+)+$`, which backtracking engines take exponential time over, answers at once."""

from __future__ import annotations

import pytest

from bot.matching import InvalidMatcher, Matcher, parse_matcher

# With a backtracking engine each extra character doubles the time: 28 took 12 s, 40 would
# take hours. The timeout bounds the test; it does not measure anything.
pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("value", ["a" * 28, "a" * 28 + "!", "a" * 40 + "!", "a" * 10_000 + "!"])
def test_nested_quantifiers_answer_at_once(value: str) -> None:
    matcher = parse_matcher('probe_x=~"(a+)+$"')
    assert matcher.matches({"label:probe_x": value}) is (not value.endswith("!"))


@pytest.mark.parametrize(
    ("pattern", "matched", "unmatched"),
    [
        pytest.param("api.*", "api-gateway", "web-api", id="anchored-to-the-whole-value"),
        pytest.param("(?i)CHECKOUT", "checkout", "checkouts", id="flags"),
        pytest.param("a|b", "b", "ab", id="alternation-whole-value"),
        pytest.param("", "", "x", id="empty"),
        pytest.param("é+", "éé", "e", id="unicode"),
    ],
)
def test_regex_semantics_are_alertmanagers(pattern: str, matched: str, unmatched: str) -> None:
    matcher = Matcher("label:svc", "=~", pattern)
    assert matcher.matches({"label:svc": matched})
    assert not matcher.matches({"label:svc": unmatched})
    assert Matcher("label:svc", "!~", pattern).matches({"label:svc": unmatched})


@pytest.mark.parametrize("pattern", ["(?<=a)b", "(a)\\1", "(unclosed"])
def test_patterns_re2_cannot_run_in_linear_time_are_refused_at_creation(pattern: str) -> None:
    with pytest.raises(InvalidMatcher, match="bad regex"):
        Matcher("label:svc", "=~", pattern)


def test_the_reported_case_end_to_end(data_dir: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The silence `probe_x=~"(a+)+$"` through the API, then alerts whose probe_x is 28 `a`s (it
    matches: muted) and 28 `a`s and a `!` (it does not): both processed at once."""
    import time
    from pathlib import Path

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from bot.http.app import create_app
    from bot.store.models import Alert
    from tests.http.conftest import make_runtime

    monkeypatch.setenv("CONDUCTOR_API_TOKEN", "redos-token")
    runtime = make_runtime(Path(str(data_dir)), ingest={"intake": "inline"})
    with TestClient(create_app(runtime)) as client:
        silence = {"matchers": ['probe_x=~"(a+)+$"'], "duration_minutes": 60}
        created = client.post("/api/silences", json=silence, headers={"authorization": "Bearer redos-token"})
        assert created.status_code == 201, created.text
        for n, value in enumerate(("a" * 28, "a" * 28 + "!")):
            alert = {
                "name": f"Probe{n}",
                "status": "firing",
                "fingerprint": f"p{n}",
                "labels": {"probe_x": value},
            }
            assert client.post("/webhooks/generic", json=alert).status_code == 202
        while runtime.pending_raw_events():
            time.sleep(0.02)
    with runtime.store.sessions() as session:
        muted = {a.fingerprint: a.muted_reason for a in session.scalars(select(Alert))}
    runtime.store.dispose()
    assert muted["p0"].startswith("silenced") and not muted["p1"]
