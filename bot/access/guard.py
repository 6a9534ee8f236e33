"""`Guard.enforce(principal, request)`: the authorization decision, applied. A refusal is audited
(in its own transaction, so it stays even though the attempt changes nothing) and raised as
`PermissionDenied` with the named reason; entry points turn that into 403, exit code 2 or a
Slack reply."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.access.policy import (
    AccessRequest,
    AddSilence,
    Decide,
    Do,
    Limits,
    Refused,
    authorize,
)
from bot.audit import audit
from bot.errors import PermissionDenied
from bot.roles import Principal
from bot.store.db import Store


def describe(request: AccessRequest) -> str:
    match request:
        case Do(action):
            return action.value
        case AddSilence(matchers, duration):
            return f"silence.add {' '.join(str(m) for m in matchers)} for {duration}"
        case Decide():
            return "approval.decide"


class Guard:
    def __init__(self, store: Store, clock: Callable[[], datetime], limits: Limits) -> None:
        self._store = store
        self._clock = clock
        self.limits = limits

    def enforce(self, principal: Principal, request: AccessRequest, *, subject: str = "access") -> None:
        decision = authorize(principal, request, limits=self.limits)
        if isinstance(decision, Refused):
            self.refuse(
                principal.actor, decision, attempt=describe(request), subject=subject, via=principal.via
            )

    def refuse(
        self, actor: str, refused: Refused, *, attempt: str, subject: str = "access", via: str = ""
    ) -> None:
        """Audit the refusal, then raise it."""
        with self._store.transaction() as session:
            audit(
                session,
                at=self._clock(),
                actor=actor,
                subject=subject,
                action="access.refused",
                details={
                    "attempt": attempt,
                    "reason": refused.reason.value,
                    "detail": refused.detail,
                    **({"via": via} if via else {}),
                },
            )
        raise PermissionDenied(refused.detail, reason=refused.reason.value)
