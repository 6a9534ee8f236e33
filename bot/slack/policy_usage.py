"""Usage lines of the policy commands (`/conductor help freeze|resume|runit`)."""

from __future__ import annotations

POLICY_USAGE = {
    "freeze": (
        "`/conductor freeze [list]` · `freeze add NAME DURATION [MATCHER...] [block] [maintenance]` · "
        "`freeze end ID` — change freezes: automatic runs in scope need approval (or stop, with `block`) "
        '(e.g. `freeze add "release freeze" 2h service=orders`; '
        "matchers on service, provider, resource, runbook)"
    ),
    "resume": "`/conductor resume RUNBOOK` (or `service:NAME`) — close an open circuit breaker",
    "runit": "`/conductor runit RUN` — run a suggested run as you (what its Run it button does)",
}
