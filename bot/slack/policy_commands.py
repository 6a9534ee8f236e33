"""`/conductor freeze ...`, `/conductor resume SCOPE` and `/conductor runit RUN`: the one core call
each makes, as the Slack user, after the same authorization as the CLI and API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.engine.engine import Engine
from bot.policies.circuits import resume
from bot.policies.freeze_input import freeze_from_options
from bot.policies.freezes import add_freeze, end_freeze, freeze_json, list_freezes
from bot.slack.policy_grammar import (
    AddFreeze,
    EndFreeze,
    ListFreezes,
    PolicyCommand,
    Resume,
    RunSuggestion,
    access_for_policy,
)
from bot.slack.policy_messages import render_freezes, render_policy_done
from bot.slack.ports import SlackCore
from bot.store.db import Store
from integrations.slack.wire import SlackActor, SlackMessage


@dataclass(frozen=True)
class SlackPolicies:
    """The store and engine behind the policy commands."""

    store: Store
    engine: Engine

    def execute(self, command: PolicyCommand, *, actor: SlackActor, now: datetime) -> SlackMessage:
        who = actor.audit_name
        match command:
            case ListFreezes():
                with self.store.sessions() as session:
                    rows = [freeze_json(f, now) for f in list_freezes(session, now=now)]
                return render_freezes(rows)
            case AddFreeze(name, duration, matchers, block, maintenance):
                declared = freeze_from_options(
                    name=name,
                    matchers=matchers,
                    now=now,
                    duration=duration,
                    block=block,
                    maintenance=maintenance,
                )
                with self.store.transaction() as session:
                    row = freeze_json(
                        add_freeze(session, declared, created_by=who, origin="slack", now=now), now
                    )
                effect = "blocks automatic runs" if row["block"] else "automatic runs need approval"
                return render_policy_done(
                    f'Freeze #{row["id"]} "{row["name"]}" on {row["scope"]} until {row["ends_at"]}: {effect}'
                )
            case EndFreeze(freeze_id):
                with self.store.transaction() as session:
                    end_freeze(session, freeze_id, actor=who, now=now)
                return render_policy_done(f"Freeze #{freeze_id} ended")
            case Resume(scope):
                with self.store.transaction() as session:
                    closed = resume(session, scope, actor=who, now=now)
                    what = closed[0].scope
                return render_policy_done(f"Circuit closed: automatic runs of {what} resume")
            case RunSuggestion(run_id):
                outcome = self.engine.run_suggestion(run_id, requested_by=who)
                return render_policy_done(
                    f"Run {outcome.run_id}: {outcome.status} ({outcome.reason})"
                    if outcome.run_id is not None
                    else f"Not run: {outcome.reason}"
                )


def execute_policy_command(
    command: PolicyCommand, *, actor: SlackActor, core: SlackCore, now: datetime
) -> SlackMessage:
    core.authorize(access_for_policy(command), actor=actor)
    return core.policies().execute(command, actor=actor, now=now)
