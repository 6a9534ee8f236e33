"""Several replicas on one PostgreSQL, killed and restarted during a storm (issue 14).

    .venv/bin/python benchmarks/ha.py --replicas 3 --kills 10 [--alerts 600] [--groups 30]
        [--latency 0.15] [--no-rolling] [--throughput] [--seed 14]

Starts N `conductor serve` processes on one fresh PostgreSQL schema (each with its own intake
process, workers and scheduler: a 2 s budget sweep runs on the lease holder), with Slack, Jira and
PagerDuty fakes answering in `--latency` seconds and moto behind the ECS scale-out runbook (one
ECS service per group; a few groups name a service that does not exist, so their runs fail and
escalate to PagerDuty). It storms generic alerts round-robin over the replicas, as a load
balancer would: repeats of each group's alerts, and HA duplicates (the same delivery sent to two
replicas). Mid-storm it SIGKILLs K times: the scheduler-lease holder, a replica in the middle of a
runbook, a replica's intake process, and random replicas, restarting whatever was killed. Then
(unless --no-rolling) a rolling restart: each replica in turn gets SIGTERM and is started again
while the storm goes on. It waits for the replicas to drain and prints the issue's table, the
drain time and (with --throughput) alerts per second with 1..N replicas. Exit 1 if a figure is
off. The suite's small version is tests/e2e/test_ha_replicas.py.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ha_figures import Figures, collect, print_table  # noqa: E402
from benchmarks.ha_storm import Storm  # noqa: E402
from benchmarks.ha_world import Fakes, Replicas, fresh_schema, kill_intake  # noqa: E402
from bot.store.db import Store  # noqa: E402
from tests.e2e.server import ServerProcess  # noqa: E402


def _kill(replicas: Replicas, store: Store, kind: str, rng: random.Random) -> str:
    """SIGKILL one process of the given kind, restart it; returns what was killed."""
    target: ServerProcess | None = None
    if kind == "lease holder":
        target = replicas.lease_holder(store)
    elif kind == "mid-runbook":  # runs hold a claim only while a worker executes or verifies them
        deadline = time.monotonic() + 15
        while target is None and time.monotonic() < deadline:
            target = replicas.mid_runbook(store)
            time.sleep(0.05)
    elif kind == "intake":
        alive = replicas.alive()
        if alive and kill_intake(rng.choice(alive)):
            return "intake process (its replica restarts it)"
        kind = "random"
    if target is None:
        alive = replicas.alive()
        if not alive:
            return "nothing alive"
        target = rng.choice(alive)
        kind = kind if kind == "random" else f"random (no {kind} found)"
    target.kill()
    target.start(timeout=120)
    return f"{kind} replica"


def kill_schedule(kills: int) -> list[str]:
    first = ["lease holder", "mid-runbook", "intake"]
    return [
        first[i] if i < len(first) else ("lease holder", "mid-runbook", "random")[i % 3] for i in range(kills)
    ]


def trial(args: argparse.Namespace, tmp: Path, fakes: Fakes, rng: random.Random) -> Figures:
    services = [f"svc-{g}" for g in range(args.groups)]
    fakes.create_services(services)
    with fresh_schema() as url:
        replicas = Replicas(tmp / "ha", url, fakes, args.replicas, grace=args.grace)
        store = Store.connect(url)
        try:
            replicas.start_all()
            started = time.monotonic()
            storm = Storm(replicas, groups=args.groups, missing=args.missing, total=args.alerts, rng=rng)
            storm.start()
            killed: list[str] = []
            for index, kind in enumerate(kill_schedule(args.kills)):
                storm.wait_for(int(args.alerts * (index + 1) / (args.kills + 2)))
                killed.append(_kill(replicas, store, kind, rng))
                print(f"  kill {index + 1}: {killed[-1]}", flush=True)
            rolling = 0.0
            if args.rolling:
                began = time.monotonic()
                for server in replicas.servers:
                    server.terminate(timeout=args.grace + 30)
                    server.start(timeout=120)
                rolling = time.monotonic() - began
                print(f"  rolling restart of {args.replicas} replicas: {rolling:.1f}s", flush=True)
            storm.finish()
            storm_end = time.monotonic()
            drained = storm.drain(store, timeout=args.drain_timeout)
            figures = collect(
                store,
                fakes,
                services,
                storm,
                drain_seconds=(time.monotonic() - storm_end) if drained else None,
                storm_seconds=storm_end - started,
                kills=killed,
                rolling_seconds=rolling,
            )
        finally:
            replicas.stop_all()
            store.dispose()
    return figures


def throughput(args: argparse.Namespace, tmp: Path, fakes: Fakes, rng: random.Random) -> dict[int, float]:
    """Alerts per second, from the first post until every delivery is applied to its incident
    (reporting and runs go on after), with 1..N replicas."""
    rates: dict[int, float] = {}
    for count in range(1, args.replicas + 1):
        fakes.create_services([f"svc-{g}" for g in range(args.groups)])
        with fresh_schema() as url:
            replicas = Replicas(tmp / f"tp{count}", url, fakes, count, grace=args.grace)
            store = Store.connect(url)
            try:
                replicas.start_all()
                storm = Storm(
                    replicas, groups=args.groups, missing=0, total=args.alerts, rng=rng, duplicates=0.0
                )
                began = time.monotonic()
                storm.start()
                storm.finish()
                storm.drain(store, timeout=args.drain_timeout, runs=False, jobs=False)
                rates[count] = len(storm.accepted) / (time.monotonic() - began)
                print(f"  {count} replica(s): {rates[count]:.0f} alerts/s", flush=True)
            finally:
                replicas.stop_all()
                store.dispose()
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--alerts", type=int, default=600, help="deliveries in the storm")
    parser.add_argument("--groups", type=int, default=30, help="incident groups (one ECS service each)")
    parser.add_argument("--missing", type=int, default=3, help="groups whose service does not exist")
    parser.add_argument("--latency", type=float, default=0.15, help="Slack/Jira/PagerDuty answer time")
    parser.add_argument("--grace", type=float, default=5.0, help="shutdown_grace_seconds")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--no-rolling", dest="rolling", action="store_false")
    parser.add_argument("--throughput", action="store_true", help="also alerts/s with 1..N replicas")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    with tempfile.TemporaryDirectory(prefix="conductor-ha-") as name:
        tmp = Path(name)
        with Fakes.running(tmp, latency=args.latency) as fakes:
            print(
                f"{args.replicas} replicas, {args.kills} kills, {args.alerts} deliveries,"
                f" latency {args.latency}s"
            )
            figures = trial(args, tmp, fakes, rng)
            print_table(figures)
            if args.throughput:
                rates = throughput(args, tmp, fakes, rng)
                print("| replicas | alerts/s |\n| --- | --- |")
                for count, rate in rates.items():
                    print(f"| {count} | {rate:.0f} |")
    return 0 if figures.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
