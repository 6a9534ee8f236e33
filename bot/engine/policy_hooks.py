"""What the policies do when a run changes: a run that ends frees a cap slot (a queue pass), and
a run that fails or is ineffective may open a circuit."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from bot.engine.cap_queue import request_pass
from bot.engine.deps import EngineDeps
from bot.engine.states import FINAL, RunStatus
from bot.policies.circuits import record_run_outcome
from bot.store.models import RunbookRun

ENDED = frozenset(s.value for s in FINAL) | {"rolled_back"}


def policy_hook(deps: EngineDeps) -> Callable[[Session, int, str], None]:
    def on_change(session: Session, run_id: int, event: str) -> None:
        if event not in ENDED:
            return
        now = deps.clock()
        run = session.get(RunbookRun, run_id)
        if run is None:
            return
        if event != "rolled_back" and deps.settings.caps.on_exceed == "queue":
            request_pass(session, now, after_run=run_id)
        if event in (RunStatus.FAILED.value, RunStatus.INEFFECTIVE.value):
            record_run_outcome(session, deps.settings.circuit_breaker, run, now=now)

    return on_change
