"""The `digest` sweep: the KPIs of the last `digest_days` (docs/kpis.md), posted to Slack with a
chart, on the sweep's schedule (e.g. `cron = "0 9 * * 1"`, Mondays at nine). The figures are stored
with the run (`conductor sweep list`, `GET /api/sweeps`) whether or not Slack is configured."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.config.sweeps import SweepSettings
from bot.kpis.compute import KpiReport, compute_kpis
from bot.kpis.render import render_kpi_chart, report_lines
from bot.store.db import Store
from bot.sweeps.report import KindResult
from bot.sweeps.slack_post import post_summary
from bot.sweeps.sources import SweepSources

if TYPE_CHECKING:
    from integrations.slack.client import PostedMessage, SlackPort


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

    def chart(slack: SlackPort, posted: PostedMessage) -> None:
        png, days = render_kpi_chart(report), f"{sweep.digest_days:g}"
        slack.upload_png(posted.channel, posted.ts, png, f"kpis-{sweep.name}.png", f"KPIs, last {days} days")

    message = digest_message(sweep, report)
    result.details["slack"] = post_summary(sweep, sources, message, result.problems, then=chart)
    return result
