"""`conductor runbooks list`, `conductor run`, `conductor approvals list|approve|deny`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from bot.access.policy import Action, Do
from bot.cli.common import AsOption, ConfigOption, acting, console, open_engine
from bot.engine.approvals import Vote
from bot.engine.requests import RunRequest
from bot.engine.views import approval_json, plan_lines
from bot.errors import ConductorError
from bot.runbook_kit.loader import load_builtin_runbooks
from bot.runbook_kit.spec import REGISTRY
from bot.store.models import Approval

runbooks_app = typer.Typer(help="The runbooks the bot can run.", no_args_is_help=True)
approvals_app = typer.Typer(help="Runs waiting for a human decision.", no_args_is_help=True)


class InvalidParam(ConductorError):
    """A --param that is not KEY=VALUE."""


def parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidParam(f"--param {pair!r}: expected KEY=VALUE")
        params[key.strip()] = value
    return params


@runbooks_app.command("list")
def list_runbooks(config: ConfigOption = None) -> None:
    """Id, risk, approval policy and one-line help of every runbook."""
    del config
    load_builtin_runbooks()
    table = Table("id", "risk", "approval", "target", "help")
    for spec in REGISTRY.all():
        table.add_row(spec.id, spec.risk.value, spec.approval.describe(), spec.target_kind, spec.summary)
    console.print(table)


def run(
    runbook: Annotated[str, typer.Argument(help="Runbook id, e.g. aws.ecs.scale_service")],
    target: Annotated[str, typer.Option("--target", "-t", help="e.g. aws:ecs:service/CLUSTER/SERVICE")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE, repeatable")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    act_as: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Plan a run (--dry-run) or request it through the same approval policy as automatic runs."""
    params = parse_params(param or [])
    with open_engine(config) as (loaded, engine):
        who = acting(loaded, engine.deps.store, Do(Action.PREVIEW if dry_run else Action.RUN), act_as=act_as)
        if dry_run:
            plan = engine.preview(runbook, target, params, requested_by=who.actor)
            for line in plan_lines(plan):
                console.print(line, markup=False, highlight=False)
            console.print("dry run: nothing was changed")
            return
        outcome = engine.request(RunRequest(runbook, target, params, requested_by=who.actor, manual=True))
    if outcome.run_id is None:
        console.print(f"no run: {outcome.reason}", markup=False)
        raise typer.Exit(1)
    console.print(f"run {outcome.run_id}: {outcome.status} ({outcome.reason})", markup=False)
    if outcome.plan is not None:
        for line in plan_lines(outcome.plan):
            console.print(line, markup=False, highlight=False)
    if outcome.approval_id is not None:
        console.print(
            f"approval {outcome.approval_id} is needed: conductor approvals approve {outcome.approval_id}"
        )
    elif outcome.status == "approved":
        console.print("queued: the workers of `conductor serve` execute it")


@approvals_app.command("list")
def list_approvals(
    config: ConfigOption = None, all_: Annotated[bool, typer.Option("--all", help="Include decided.")] = False
) -> None:
    """Pending approvals (with --all, decided ones too)."""
    with open_engine(config) as (loaded, engine):
        acting(loaded, engine.deps.store, Do(Action.READ))
        with engine.deps.store.sessions() as session:
            query = select(Approval).order_by(Approval.id.desc())
            if not all_:
                query = query.where(Approval.status == "pending")
            rows = [approval_json(session, a) for a in session.scalars(query.limit(100))]
    table = Table("id", "run", "runbook", "target", "status", "votes", "requested by", "expires")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["run_id"]),
            row["runbook"],
            row["target"],
            row["status"],
            f"{row['approvals']}/{row['quorum']}",
            row["requested_by"],
            row["expires_at"],
        )
    console.print(table)


def _decide(approval_id: int, vote: Vote, act_as: str | None, reason: str, config: Any) -> None:
    with open_engine(config) as (loaded, engine):
        who = acting(loaded, engine.deps.store, None, act_as=act_as)
        decided = engine.decide(approval_id, principal=who, vote=vote, reason=reason)
    console.print(json.dumps(decided.__dict__))


@approvals_app.command("approve")
def approve(approval_id: int, act_as: AsOption = None, config: ConfigOption = None) -> None:
    """Approve (counts toward the quorum) as cli:<OS user>, or --as NAME."""
    _decide(approval_id, Vote.APPROVE, act_as, "", config)


@approvals_app.command("deny")
def deny(
    approval_id: int,
    act_as: AsOption = None,
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    config: ConfigOption = None,
) -> None:
    """Deny: the run is rejected."""
    _decide(approval_id, Vote.DENY, act_as, reason, config)


def register(app: typer.Typer) -> None:
    app.add_typer(runbooks_app, name="runbooks")
    app.command("run")(run)
    app.add_typer(approvals_app, name="approvals")
