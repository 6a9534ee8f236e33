"""Sweep findings rendered for Slack (Block Kit) and for the terminal (`conductor sweep run`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.config.sweeps import SweepSettings
from bot.sweeps.report import KindResult, SweepReport

MAX_LISTED = 40  # Slack allows 50 blocks per message
_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], *, top: float = 100.0) -> str:
    """Daily averages as bar glyphs on a 0..top scale (CPU percent)."""
    if not values:
        return ""
    return "".join(_BARS[min(len(_BARS) - 1, max(0, int(v / top * len(_BARS))))] for v in values)


def _where(finding: dict[str, Any]) -> str:
    resource = finding.get("resource") or {}
    name = resource.get("name") or resource.get("id") or finding.get("series", "?")
    kind = resource.get("type") or resource.get("provider") or ""
    region = resource.get("region") or resource.get("account") or ""
    extra = ", ".join(p for p in (kind, region) if p)
    return f"{name} ({extra})" if extra else str(name)


def waste_line(finding: dict[str, Any]) -> str:
    daily = [d["average"] for d in finding.get("daily", [])]
    return (
        f"{_where(finding)}: average {finding['average']:.1f}% CPU, peak {finding['peak']:.1f}%, "
        f"p95 {finding['p95']:.1f}% over {finding['window_days']:g} days "
        f"({finding['points']} points, {finding['coverage']:.0%} coverage) {sparkline(daily)}"
    )


def waste_message(
    sweep: SweepSettings, result: KindResult, now: datetime
) -> tuple[list[dict[str, Any]], str]:
    findings = result.findings
    headline = (
        f"Waste report `{sweep.name}`: {len(findings)} of {result.series_scanned} resources averaged under "
        f"{sweep.cpu_threshold:g}% CPU over the last {sweep.window_days:g} days"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Waste report: {sweep.name}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
    ]
    for finding in findings[:MAX_LISTED]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "• " + waste_line(finding)}})
    if len(findings) > MAX_LISTED:
        more = f"…and {len(findings) - MAX_LISTED} more (`conductor sweep list`, `GET /api/sweeps`)."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    unhealthy = [s for s in result.sources if not s.healthy]
    if unhealthy:
        text = "; ".join(f"{s.source} unavailable: {s.error or 'unhealthy'}" for s in unhealthy)
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f":warning: {text}"[:3000]}]}
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"as of {now:%Y-%m-%d %H:%M} UTC"}]}
    )
    return blocks, headline


def finding_line(finding: dict[str, Any]) -> str:
    """One line per finding for the terminal."""
    kind = finding.get("type")
    if kind == "waste":
        return waste_line(finding)
    if kind == "anomaly":
        return (
            f"{_where(finding)} {finding['metric'].get('name')}: score {finding['score']:.4f} "
            f"at {finding.get('at')} (value {finding.get('value')}) - {finding.get('explanation', '')}"
        )
    if kind == "budget":
        return (
            f"budget {finding['budget']}: {finding['actual']:.2f} of {finding['limit']:.2f} "
            f"{finding['unit']} "
            f"({finding['share']:.0%}, alert at {finding['alert_share']:.0%})"
        )
    return str(finding)


def report_summary(report: SweepReport) -> str:
    return (
        f"{report.sweep} ({report.kind}): {report.status}, {report.series_scanned} series scanned, "
        f"{len(report.findings)} findings in {report.duration_seconds:.1f}s"
    )
