"""The storm of benchmarks/ha.py: generic alerts posted round-robin over the replicas by a few
clients, as a load balancer would (a refused or failed post goes to the next replica), with
repeats of every group's alerts and HA duplicates (one delivery sent to two replicas)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from benchmarks.ha_world import Replicas
from bot.engine.states import FINAL
from bot.store.db import Store
from bot.store.models import Job, RawEvent, RunbookRun

CLIENTS = 6
FINGERPRINTS_PER_GROUP = 3


def service_of(group: int, missing: int) -> str:
    """Groups below `missing` name an ECS service that does not exist: their runs fail and page."""
    return f"missing-{group}" if group < missing else f"svc-{group}"


def delivery(n: int, groups: int, missing: int) -> dict[str, Any]:
    group = n % groups
    service = service_of(group, missing)
    return {
        "id": f"d-{n}",  # each delivery its own idempotency key; a HA duplicate repeats it
        "name": "HighCPU",
        "status": "firing",
        "severity": "critical",
        "fingerprint": f"fp-{group}-{(n // groups) % FINGERPRINTS_PER_GROUP}",
        "resource": {
            "provider": "aws",
            "type": "ecs:service",
            "id": f"prod/{service}",
            "region": "us-east-1",
        },
        "labels": {"service": service},
    }


class Storm:
    def __init__(
        self,
        replicas: Replicas,
        *,
        groups: int,
        missing: int,
        total: int,
        rng: random.Random,
        duplicates: float = 0.2,
    ) -> None:
        self.replicas = replicas
        self.groups = groups
        self.missing = missing
        self.total = total
        self.duplicates = duplicates
        self.accepted: set[str] = set()
        self.ha_duplicates = 0
        self._seed = rng.random()
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(CLIENTS)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def finish(self) -> None:
        for thread in self._threads:
            thread.join()

    def wait_for(self, count: int, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def _client(self, index: int) -> None:
        rng = random.Random(self._seed + index)
        with httpx.Client(timeout=15) as http:
            while (n := next(self._counter)) < self.total:
                body = delivery(n, self.groups, self.missing)
                where = self._post(http, body, first=n)
                if where is not None and rng.random() < self.duplicates:
                    self._post(http, body, first=where + 1)  # the HA twin, to another replica
                    with self._lock:
                        self.ha_duplicates += 1

    def _post(self, http: httpx.Client, body: dict[str, Any], *, first: int) -> int | None:
        servers = self.replicas.servers
        for attempt in range(len(servers) * 20):
            index = (first + attempt) % len(servers)
            try:
                status = http.post(f"{servers[index].url}/webhooks/generic", json=body).status_code
            except httpx.HTTPError:
                status = 0
            if status == 202:
                with self._lock:
                    self.accepted.add(str(body["id"]))
                return index
            if attempt and attempt % len(servers) == 0:
                time.sleep(0.2)  # every replica refused: one is restarting, the others drain
        return None

    def drain(self, store: Store, *, timeout: float, runs: bool = True, jobs: bool = True) -> bool:
        """Wait until every stored delivery is applied, every due job done and (with `runs`) every
        run final. False on timeout."""
        final = [s.value for s in FINAL]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with store.sessions() as session:
                events = session.scalar(
                    select(func.count()).select_from(RawEvent).where(RawEvent.status == "pending")
                )
                pending_jobs = session.scalar(
                    select(func.count()).select_from(Job).where(Job.status == "pending")
                )
                active = session.scalar(
                    select(func.count()).select_from(RunbookRun).where(RunbookRun.status.not_in(final))
                )
            if not events and (not jobs or not pending_jobs) and (not runs or not active):
                return True
            time.sleep(0.25)
        return False
