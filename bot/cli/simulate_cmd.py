"""`conductor simulate --source S FILE [--config C] [--plan] [--score X] [--json]`: what the bot
would do with a payload, changing nothing (bot/pipeline/simulate.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.access.policy import Action, Do
from bot.cli.common import ConfigOption, acting, open_engine
from bot.cli.output import console, json_line, print_json_line
from bot.clock import utc_now
from bot.errors import ConductorError, MalformedPayload, UnknownSource


class UnreadablePayload(ConductorError):
    """The payload file cannot be read."""


def _alert_line(n: int, data: dict[str, object]) -> str:
    what = f"{data['source']} {data['name']} ({data['status']}, {data['severity']})"
    return f"alert {n}: {what} fingerprint {data['fingerprint']}"


def simulate(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A webhook payload ('-' for stdin).")],
    source: Annotated[str, typer.Option("--source", "-s", help="Webhook source, e.g. alertmanager.")],
    plan: Annotated[
        bool,
        typer.Option("--plan", help="Also print the runbook's dry-run plan (reads the target: network)."),
    ] = False,
    score: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="Assume this anomaly score (default: not scored; no metric is fetched)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines (one object per alert).")] = False,
    config: ConfigOption = None,
) -> None:
    """Print, for each alert in FILE: the normalized alert, the incident it would join or open, the
    silences and inhibitions that apply, the matching rule, the runbook and target, and the gate's
    decision with its reason. Nothing is stored, queued or sent; no network unless --plan."""
    import sys

    from bot.cli.simulate_plan import plan_text
    from bot.ingest.parsing import parse_options
    from bot.pipeline.simulate import simulate_alerts
    from integrations.registry import get_parser

    try:
        parser = get_parser(source)
    except UnknownSource as exc:
        raise UnknownSource(f"--source: {exc}") from None
    try:
        body = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        raise UnreadablePayload(f"{file}: cannot read ({exc.strerror or exc})") from None
    with open_engine(config) as (loaded, engine):
        acting(loaded, engine.deps.store, Do(Action.READ))
        try:
            delivery = parser(body, headers={}, options=parse_options(loaded.settings))
        except MalformedPayload as exc:
            raise MalformedPayload(f"{file}: {exc.reason}") from None
        now = utc_now()
        with engine.deps.store.sessions() as session:
            results = simulate_alerts(
                session, loaded.settings, list(delivery.alerts), now=now, assumed_score=score
            )
        if not results:
            console.print(f"{file}: no alert in this payload ({delivery.kind.value})", markup=False)
        for n, result in enumerate(results, 1):
            plan_lines = plan_text(engine, result) if plan else []
            if as_json:
                print_json_line({**result.to_json(), **({"plan": plan_lines} if plan else {})})
                continue
            data = result.to_json()
            incident = data["incident"]
            lines = [
                _alert_line(n, data["alert"]),
                f"  normalized: {json_line(data['alert'])}",
                f"  muted:    {data['muted'] or 'no (no silence or inhibition applies)'}",
                f"  incident: {_incident_text(incident)}",
                f"  rule:     {_rule_text(data['rule'])}",
            ]
            if result.runbook:
                lines.append(f"  runbook:  {result.runbook} on {result.target or '-'} params {result.params}")
            lines.append(f"  decision: {result.decision}: {result.reason}")
            if score is None and result.runbook and result.target:
                lines.append(
                    "  (the metric was not fetched: detector verdict 'not scored'; --score S assumes one)"
                )
            lines += [f"  plan: {line}" for line in plan_lines]
            for line in lines:
                console.print(line, markup=False, highlight=False)
    if not as_json:
        console.print("simulation: nothing was stored, queued or sent", markup=False)


def _incident_text(incident: dict[str, object]) -> str:
    action = incident["action"]
    if action == "join":
        return f"joins open incident {incident['id']} ({incident['title']})"
    if action == "reopen":
        return f"reopens incident {incident['id']} ({incident['title']})"
    if action == "open":
        return f"opens a new incident: {incident['title']} (group {incident['group_key']})"
    if action == "resolve_alert":
        return f"resolves its alert in incident {incident['id']}"
    return "none (a resolved alert that was never seen)"


def _rule_text(rule: dict[str, object] | None) -> str:
    return "none" if rule is None else f"rules[{rule['index']}] {rule['name']}"


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
