"""Which Slack user groups a user belongs to, for approver checks, cached briefly.

Approver rules in `[approvals]` may name Slack user-group ids (`S0123ABC`). A click only says
who clicked, so membership is read with usergroups.users.list and kept for `ttl`, so a burst of
clicks costs one call per group, and a change in Slack takes effect within minutes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bot.errors import IntegrationError
from bot.logs import get_logger

log = get_logger(__name__)

DEFAULT_TTL = timedelta(minutes=2)


class UserGroupCache:
    def __init__(
        self,
        members: Callable[[str], frozenset[str]],
        *,
        clock: Callable[[], datetime],
        ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        self._members = members
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}

    def members(self, group_id: str) -> frozenset[str]:
        """The group's user ids; empty (and not cached) when Slack cannot say, so the check fails closed."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(group_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            found = self._members(group_id)
        except IntegrationError as exc:
            log.warning("slack: user group membership unavailable", group=group_id, error=str(exc))
            return frozenset()
        with self._lock:
            self._cache[group_id] = (now, found)
        return found

    def groups_of(self, user_id: str, candidates: Iterable[str]) -> frozenset[str]:
        """The candidate groups `user_id` belongs to."""
        return frozenset(g for g in dict.fromkeys(candidates) if user_id in self.members(g))
