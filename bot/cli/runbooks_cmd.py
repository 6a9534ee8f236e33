"""`conductor runbooks list`, `conductor run`, `conductor approvals list|approve|deny`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from bot.access.policy import Action, Do
from bot.cli.common import AsOption, ConfigOption, acting, load, open_engine
from bot.cli.output import console, print_json_line
from bot.engine.approvals import Vote
from bot.engine.requests import RunRequest
from bot.engine.views import approval_json, plan_lines
from bot.errors import ConductorError, RunbookNotFound
from bot.runbook_kit.describe import describe_runbook
from bot.runbook_kit.loader import load_builtin_runbooks, load_runbook_dirs
from bot.runbook_kit.spec import REGISTRY
from bot.store.models import Approval

runbooks_app = typer.Typer(help="The runbooks the bot can run.", no_args_is_help=True)
approvals_app = typer.Typer(help="Runs waiting for a human decision.", no_args_is_help=True)


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON Lines (one object per line).")]


class InvalidParam(ConductorError):
    """A --param that is not KEY=VALUE."""


class NothingToTest(ConductorError):
    """`conductor runbooks test PATH`: PATH is missing or holds no runbook module."""


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


@runbooks_app.command("show")
def show_runbook(
    runbook_id: Annotated[str, typer.Argument(metavar="ID", help="Runbook id, e.g. aws.ecs.scale_service")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Params with types and defaults, risk, approval policy, budget and cooldown of one runbook."""
    from bot.config.suggest import did_you_mean

    load_builtin_runbooks()
    if config is not None:
        load_runbook_dirs(list(load(config).settings.runbooks.directories))
    spec = REGISTRY.get(runbook_id)
    if spec is None:
        raise RunbookNotFound(f'no runbook named "{runbook_id}"{did_you_mean(runbook_id, REGISTRY.ids())}')
    info = describe_runbook(spec)
    if as_json:
        print_json_line(info)
        return
    budget = info["budget"]
    per = "none" if budget is None else f"{budget['max_runs']} runs per {budget['window']} per target"
    lines = [
        f"{info['id']}: {info['title']}",
        f"  target:    {info['target_kind']}",
        f"  risk:      {info['risk']}",
        f"  approval:  {info['approval']}",
        f"  budget:    {per}",
        f"  cooldown:  {info['cooldown']}",
        f"  timeout:   {info['timeout']}",
        "  params:",
    ]
    for p in info["params"]:
        default = "required" if p["required"] else f"default {json.dumps(p['default'])}"
        lines.append(
            f"    {p['name']}: {p['type']} ({default}){' - ' + p['description'] if p['description'] else ''}"
        )
    if not info["params"]:
        lines.append("    (none)")
    lines += ["", info["help"]]
    for line in lines:
        console.print(line, markup=False, highlight=False)


@runbooks_app.command("test")
def check_runbooks(
    path: Annotated[Path, typer.Argument(help="A runbook module (.py) or a directory of them.")],
    pytest_arg: Annotated[
        list[str] | None, typer.Option("--pytest-arg", help="Passed on to pytest, repeatable.")
    ] = None,
) -> None:
    """Load runbook modules, check their declarations and run their tests against moto.

    A module foo.py is tested by test_foo.py beside it (or in tests/ beside it), written with the
    fixtures of bot.runbook_testing.plugin (docs/runbooks.md). Exit 0: loaded and tests passed;
    1: a test failed or a module has no tests; 2: PATH is missing or a module does not load.
    """
    from bot.runbook_testing.check import inspect, run_tests

    if not path.exists():
        raise NothingToTest(f"{path}: no such file or directory")
    load_builtin_runbooks()
    checks = inspect(path)
    if not checks:
        raise NothingToTest(f"{path}: no runbook modules (*.py) found")
    untested = []
    for check in checks:
        for spec in check.runbooks:
            console.print(
                f"{spec.id}: loaded from {check.path.name} (risk {spec.risk.value}, target "
                f"{spec.target_kind}, approval {spec.approval.describe()})",
                markup=False,
            )
        for note in check.notes:
            console.print(f"  note: {note}", markup=False)
        if not check.tests:
            untested.append(check.path)
            console.print(f"{check.path.name}: no tests (expected test_{check.path.stem}.py beside it)")
    files = [t for check in checks for t in check.tests]
    code = run_tests(files, extra_args=pytest_arg or []) if files else 0
    if code != 0 or untested:
        console.print("runbook tests: FAILED" if code != 0 else "runbook tests: some modules have no tests")
        raise typer.Exit(1)
    console.print(f"runbook tests: passed ({len(files)} test file(s))")


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
    from bot.cli.policies_cmd import add_circuit_commands

    add_circuit_commands(runbooks_app)
    app.add_typer(runbooks_app, name="runbooks")
    app.command("run")(run)
    app.add_typer(approvals_app, name="approvals")
