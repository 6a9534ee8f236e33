"""Where the KPIs show: `conductor report`, GET /api/kpis, the Prometheus histograms and the
`digest` sweep posting to (a fake) Slack with its chart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from sqlalchemy import func, select

from bot.cli.main import run
from bot.http.app import create_app
from bot.kpis.observe import KpiObserver
from bot.metrics import Metrics
from bot.runtime import Runtime
from bot.store.db import Store
from bot.store.models import Notification, SweepRun
from bot.sweeps.runner import run_sweep
from tests.fakes.slack import FakeSlack
from tests.http.conftest import make_runtime
from tests.kpis.test_kpis import MIN, T0, add_incident, add_run, seed
from tests.sweeps.conftest import context_for

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def runtime(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("TOKEN_VIEW", "t-view")
    rt = make_runtime(
        data_dir,
        permissions={"api_tokens": [{"name": "grafana", "secret_env": "TOKEN_VIEW", "role": "viewer"}]},
        slack={"default_channel": "C0KPIS"},
        sweeps=[{"name": "weekly", "kind": "digest", "digest_days": 1, "schedule": {"cron": "0 9 * * 1"}}],
    )
    rt.clock = lambda: T0 + timedelta(days=1)  # type: ignore[method-assign]
    yield rt
    rt.store.dispose()


def test_report_prints_text_json_lines_and_a_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n')
    (tmp_path / "var").mkdir()
    store = Store.connect(f"sqlite:///{tmp_path / 'var' / 'conductor.sqlite3'}")
    from bot.store import migrate

    migrate.upgrade(store)
    seed_recent(store)
    store.dispose()
    chart = tmp_path / "kpis.png"
    assert run(["report", "--since", "2d", "--config", str(config), "--json", "--plot", str(chart)]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    data = json.loads(out)
    assert data["incidents"] == {"opened": 1, "resolved": 1}
    assert data["mttr"]["median_seconds"] == 600.0
    assert chart.read_bytes().startswith(PNG_MAGIC) and chart.stat().st_size > 10_000
    assert run(["report", "--since", "2d", "--service", "api", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "KPIs for service api" in text and "MTTR (opened -> resolved): mean 10m 0s" in text
    assert run(["report", "--plot", str(tmp_path / "no" / "such" / "dir.png"), "--config", str(config)]) == 2
    assert "cannot write (No such file or directory)" in capsys.readouterr().err
    assert run(["report", "--since", "soon", "--config", str(config)]) == 2
    assert capsys.readouterr().err == "error: duration 'soon': use e.g. 30m, 2h, 1d or 1h30m\n"


def seed_recent(store: Store) -> None:
    from bot.clock import utc_now

    now = utc_now()
    with store.transaction() as s:
        add_incident(
            s,
            opened=now - 60 * MIN,
            alerts=[(now - 62 * MIN, {"service": "api"}, "")],
            resolved=now - 50 * MIN,
            resolved_by="run:1",
        )


def test_api_kpis_for_a_viewer(runtime: Runtime) -> None:
    seed(runtime.store)
    with TestClient(create_app(runtime, background=False)) as client:
        assert client.get("/api/kpis").status_code == 401
        answer = client.get("/api/kpis?since=2d&service=api", headers={"Authorization": "Bearer t-view"})
        assert answer.status_code == 200
        assert answer.json()["incidents"] == {"opened": 2, "resolved": 1}
        assert answer.json()["service"] == "api"
        bad = client.get("/api/kpis?since=later", headers={"Authorization": "Bearer t-view"})
        assert bad.status_code == 400 and "use e.g. 30m" in bad.json()["detail"]
        too_long = client.get("/api/kpis?since=400d", headers={"Authorization": "Bearer t-view"})
        assert too_long.status_code == 400


def histogram(metrics: Metrics, name: str) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    }


def test_histograms_observe_each_incident_once(runtime: Runtime) -> None:
    metrics = Metrics()
    observer = KpiObserver(runtime.store, metrics, runtime.clock)
    with runtime.store.transaction() as s:
        by_run = add_incident(
            s, opened=T0, alerts=[(T0, {}, "")], resolved=T0 + 10 * MIN, resolved_by="run:1"
        )
        run_row = add_run(s, by_run, runbook="x", status="succeeded", created=T0, started=T0 + 4 * MIN)
        by_person = add_incident(s, opened=T0, alerts=[(T0, {}, "")], acknowledged=T0 + 30 * MIN)
        ids = (by_run.id, run_row.id, by_person.id)
    observer.run_changed(ids[1], "running")
    observer.run_changed(ids[1], "running")  # a retried job
    observer.incident_changed(ids[0], "resolved")
    observer.incident_changed(ids[0], "resolved")
    observer.incident_changed(ids[2], "acknowledged")
    ack = histogram(metrics, "conductor_time_to_acknowledge_seconds")
    assert ack["conductor_time_to_acknowledge_seconds_count"] == 2
    assert ack["conductor_time_to_acknowledge_seconds_sum"] == 240 + 1800
    assert ack['conductor_time_to_acknowledge_seconds_bucket{le="300.0"}'] == 1
    resolve = histogram(metrics, "conductor_time_to_resolve_seconds")
    assert resolve["conductor_time_to_resolve_seconds_count"] == 1
    assert resolve["conductor_time_to_resolve_seconds_sum"] == 600
    # a second replica (its own registry) hearing the same events observes nothing more
    other = Metrics()
    KpiObserver(runtime.store, other, runtime.clock).incident_changed(ids[0], "resolved")
    assert (
        histogram(other, "conductor_time_to_resolve_seconds")["conductor_time_to_resolve_seconds_count"] == 0
    )
    with runtime.store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 3


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    fake = FakeSlack()
    fake.start()
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.bot_token)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    yield fake
    fake.stop()


def test_the_digest_sweep_posts_the_kpis_and_a_chart(runtime: Runtime, slack: FakeSlack) -> None:
    seed(runtime.store)
    report = run_sweep("weekly", context=context_for(runtime), now=T0 + timedelta(days=1))
    assert report.status == "ok", report.error
    assert report.details["kpis"]["incidents"] == {"opened": 3, "resolved": 2}
    (message,) = slack.messages("C0KPIS")
    assert "KPI digest `weekly`" in message.text
    assert "automatic resolution: 50% (1 of 2 resolved)" in " ".join(message.block_texts())
    (chart,) = slack.files(channel="C0KPIS", thread_ts=message.ts)
    assert chart.filename == "kpis-weekly.png" and (chart.content or b"").startswith(PNG_MAGIC)
    with runtime.store.sessions() as session:
        stored = session.scalars(select(SweepRun)).one()
    assert stored.kind == "digest" and stored.details["slack"]["posted"] is True


def test_a_digest_takes_only_its_own_keys() -> None:
    from bot.config.loader import parse_settings
    from bot.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        parse_settings({"sweeps": [{"name": "d", "kind": "digest", "cpu_threshold": 5}]}, {})
    assert "cpu_threshold: not a key of a digest sweep" in str(info.value)
