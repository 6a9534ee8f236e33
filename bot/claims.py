"""Release work claimed by processes that died on this host (kill -9, OOM, power loss): raw
events, jobs, runbook runs and notification-log claims.

Claims are `host:pid[/worker]`. A claim from this host whose pid is gone can be released at
once; claims from other hosts are left to expire with their lease.
"""

from __future__ import annotations

import os
import socket

from sqlalchemy import select, update

from bot.store.db import Store
from bot.store.models import Job, Notification, RawEvent, RunbookRun


def worker_name() -> str:
    """This process as a claim holder: `host:pid` (workers and claims add `/...`)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_local_holders(holders: set[str], *, hostname: str | None = None) -> set[str]:
    host = hostname or socket.gethostname()
    dead = set()
    for holder in holders:
        claimed_host, _, rest = holder.partition(":")
        pid_text = rest.split("/", 1)[0]
        mine = claimed_host == host and pid_text.isdigit() and int(pid_text) != os.getpid()
        if mine and not _pid_alive(int(pid_text)):
            dead.add(holder)
    return dead


def release_dead_claims(store: Store) -> int:
    """Returns how many claims were released."""
    released = 0
    with store.transaction() as session:
        for model in (RawEvent, Job, RunbookRun, Notification):
            holders = {h for h in session.scalars(select(model.claimed_by).distinct()) if h}
            dead = dead_local_holders(holders)
            if dead:
                result = session.execute(
                    update(model)
                    .where(model.claimed_by.in_(dead))
                    .values(claimed_by=None, claimed_until=None)
                )
                released += int(getattr(result, "rowcount", 0) or 0)
    return released
