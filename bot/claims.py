"""Release work claimed by processes that died on this host (kill -9, OOM, power loss): raw
events, jobs, runbook runs and notification-log claims.

Claims are `host:pid[/worker]`. A claim from this host whose pid is gone can be released at
once; claims from other hosts are left to expire with their lease.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import ColumnElement, delete, or_, select, update

from bot.store.db import Store
from bot.store.models import Job, Notification, RawEvent, RunbookRun


def worker_name() -> str:
    """This process as a claim holder: `host:pid` (workers and claims add `/...`)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claimable(model: type[RawEvent] | type[Job], now: datetime, worker: str) -> ColumnElement[bool]:
    """Rows a worker may claim: free, with an expired claim, or claimed by this very worker (a
    claim it left when the store failed under it: it is not working on it, it is claiming)."""
    return or_(model.claimed_until.is_(None), model.claimed_until < now, model.claimed_by == worker)


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


def release_own_claims(store: Store, identity: str, *, raw_events_only: bool = False) -> int:
    """On a clean shutdown (workers stopped): give back what this process still holds, so another
    replica takes it at once instead of waiting for the lease to run out. Raw events and jobs it
    claimed but did not finish (the attempt is not counted), notification-log claims it never
    sent, and runs between steps. A run whose action may still be running (`in_flight`, or
    watched after a timeout: `/abandoned`) is left to its lease and to reconciliation.
    `raw_events_only` when a worker may still be running: a raw event is only ever finished by the
    worker that holds its claim (the flip to done checks it), so giving it back is always safe."""
    released = 0
    with store.transaction() as session:
        for model in (RawEvent,) if raw_events_only else (RawEvent, Job):
            owned = or_(model.claimed_by == identity, model.claimed_by.like(f"{identity}/%"))
            result = session.execute(
                update(model)
                .where(owned, model.status == "pending")
                .values(claimed_by=None, claimed_until=None, attempts=model.attempts - 1)
            )
            released += int(getattr(result, "rowcount", 0) or 0)
        if raw_events_only:
            return released
        unsent = session.execute(
            delete(Notification).where(
                Notification.state == "claimed", Notification.claimed_by.like(f"{identity}/%")
            )
        )
        released += int(getattr(unsent, "rowcount", 0) or 0)
        runs = session.execute(
            update(RunbookRun)
            .where(
                or_(RunbookRun.claimed_by == identity, RunbookRun.claimed_by.like(f"{identity}/%")),
                RunbookRun.in_flight == "",
                ~RunbookRun.claimed_by.like("%/abandoned"),
            )
            .values(claimed_by=None, claimed_until=None)
        )
        released += int(getattr(runs, "rowcount", 0) or 0)
    return released
