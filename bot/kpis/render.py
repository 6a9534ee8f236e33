"""KPIs as text lines (the CLI and the Slack digest) and as a PNG chart (matplotlib, Agg canvas,
no pyplot global state: safe in worker threads)."""

from __future__ import annotations

import io

from matplotlib.figure import Figure

from bot.kpis.compute import RUN_OUTCOMES, KpiReport
from bot.kpis.stats import Durations, human_seconds

OUTCOME_COLORS = {
    "succeeded": "#2ca02c",
    "ineffective": "#ff7f0e",
    "rolled_back": "#9467bd",
    "failed": "#d62728",
    "rejected": "#8c564b",
    "expired": "#7f7f7f",
    "cancelled": "#bcbd22",
}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _durations(name: str, d: Durations) -> str:
    return (
        f"{name}: mean {human_seconds(d.mean)}, median {human_seconds(d.median)}, "
        f"p90 {human_seconds(d.p90)} ({d.count} incidents)"
    )


def report_lines(report: KpiReport) -> list[str]:
    """The report as plain lines for a person."""
    scope = f" for service {report.service}" if report.service else ""
    data = report.to_json()
    noise = data["noise"]
    lines = [
        f"KPIs{scope}, {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC",
        f"incidents: {report.incidents} opened, {report.resolved} resolved",
        _durations("MTTD (first alert -> incident opened)", report.mttd),
        _durations("MTTA (opened -> first acknowledgement or run)", report.mtta),
        _durations("MTTR (opened -> resolved)", report.mttr),
        f"automatic resolution: {_percent(report.automatic_resolution_rate)} "
        f"({report.resolved_automatically} of {report.resolved} resolved)",
        f"approvals: {report.approvals['approved']} approved, {report.approvals['denied']} denied, "
        f"{report.approvals['expired']} expired, {report.approvals['pending']} pending; "
        f"time to decision median {human_seconds(report.approval_decision.median)}",
        f"noise: {report.alerts} alerts, {noise['alerts_per_incident'] or '-'} per incident, "
        f"flapping {_percent(noise['flapping_share'])} of incidents, "
        f"silenced {_percent(noise['silenced_share'])} and inhibited {_percent(noise['inhibited_share'])} "
        "of alerts",
    ]
    if report.runbooks:
        lines.append("runbooks:")
    for r in report.runbooks:
        outcomes = ", ".join(f"{n} {k}" for k, n in r.outcomes.items()) or "none finished"
        flight = f", {r.in_flight} in flight" if r.in_flight else ""
        lines.append(
            f"  {r.runbook}: {r.runs} runs, {_percent(r.success_rate)} succeeded ({outcomes}{flight})"
        )
        for reason, n in r.rejected_by_reason.items():
            lines.append(f"    rejected {n}x: {reason}")
    return lines


def render_kpi_chart(report: KpiReport) -> bytes:
    """A PNG: MTTD / MTTA / MTTR (median and mean, minutes) and runbook outcomes per runbook."""
    figure = Figure(figsize=(10, 4.2), dpi=100)
    times, runs = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    names = ["MTTD", "MTTA", "MTTR"]
    series = [report.mttd, report.mtta, report.mttr]
    xs = range(len(names))
    medians = [(d.median or 0.0) / 60 for d in series]
    means = [(d.mean or 0.0) / 60 for d in series]
    times.bar([x - 0.2 for x in xs], medians, width=0.4, label="median", color="#1f77b4")
    times.bar([x + 0.2 for x in xs], means, width=0.4, label="mean", color="#aec7e8")
    times.set_xticks(list(xs), names)
    times.set_ylabel("minutes")
    times.set_title(f"{report.incidents} incidents, {report.resolved} resolved")
    times.legend()
    times.grid(True, axis="y", alpha=0.3)
    labels = [r.runbook for r in report.runbooks] or ["(no runs)"]
    left = [0.0] * len(labels)
    for outcome in RUN_OUTCOMES:
        counts = [float(r.outcomes.get(outcome, 0)) for r in report.runbooks] or [0.0]
        if any(counts):
            runs.barh(
                labels, counts, left=left, label=outcome.replace("_", " "), color=OUTCOME_COLORS[outcome]
            )
            left = [a + b for a, b in zip(left, counts, strict=True)]
    rate = report.automatic_resolution_rate
    runs.set_title(f"runbook outcomes (automatic resolution {_percent(rate)})")
    runs.set_xlabel("runs")
    if report.runbooks:
        runs.legend(fontsize="small")
    runs.grid(True, axis="x", alpha=0.3)
    scope = f" - service {report.service}" if report.service else ""
    figure.suptitle(f"Cloud Conductor KPIs {report.since:%Y-%m-%d} to {report.until:%Y-%m-%d}{scope}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
