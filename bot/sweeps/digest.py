"""The `digest` sweep: the KPIs of the last `digest_days` (docs/kpis.md), posted to Slack with a
chart, on the sweep's schedule (e.g. `cron = "0 9 * * 1"`, Mondays at nine). The figures are stored
with the run (`conductor sweep list`, `GET /api/sweeps`) whether or not Slack is configured."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.config.sweeps import SweepSettings
from bot.errors import IntegrationError
from bot.kpis.compute import KpiReport, compute_kpis
from bot.kpis.render import render_kpi_chart, report_lines
from bot.store.db import Store
from bot.sweeps.report import KindResult
from bot.sweeps.sources import SweepSources


def digest_message(sweep: SweepSettings, report: KpiReport) -> tuple[list[dict[str, Any]], str]:
    """Slack blocks (and their fallback text) for a KPI digest."""
    lines = report_lines(report)
    headline = f"KPI digest `{sweep.name}`: {lines[0]}"
    body = "\n".join(lines[1:])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"KPI digest: {sweep.name}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:3000]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{body[:2900]}```"}},
    ]
    return blocks, headline


def run_digest(sweep: SweepSettings, *, sources: SweepSources, store: Store, now: datetime) -> KindResult:
    with store.sessions() as session:
        report = compute_kpis(
            session, since=now - timedelta(days=sweep.digest_days), until=now, service=sweep.service
        )
    result = KindResult(details={"kpis": report.to_json()})
    result.details["slack"] = _post(sweep, sources, report, result.problems)
    return result


def _post(
    sweep: SweepSettings, sources: SweepSources, report: KpiReport, problems: list[str]
) -> dict[str, Any]:
    slack = sources.slack()
    if slack is None:
        return {"posted": False, "reason": sources.slack_off_reason()}
    channel = sweep.slack_channel or sources.settings.slack.default_channel
    if not channel:
        problems.append("slack: no channel (set slack_channel on the sweep or [slack] default_channel)")
        return {"posted": False, "reason": "no channel"}
    blocks, text = digest_message(sweep, report)
    try:
        posted = slack.post_parent(channel, blocks, text)
        slack.upload_png(
            posted.channel,
            posted.ts,
            render_kpi_chart(report),
            f"kpis-{sweep.name}.png",
            f"KPIs, last {sweep.digest_days:g} days",
        )
    except IntegrationError as error:
        problems.append(f"slack: {error}")
        return {"posted": False, "channel": channel, "error": str(error)}
    return {"posted": True, "channel": posted.channel, "ts": posted.ts}
