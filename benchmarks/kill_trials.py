"""kill -9 trials: acknowledged alerts lost and processed twice (issue 13, for docs/security.md).

    .venv/bin/python benchmarks/kill_trials.py [--storms 10] [--groups 5] [--seed 13]

Storm trial: `conductor serve` (SQLite, defaults) takes generic webhooks from 16 clients; after a
random number of acknowledgements (100-600) it is killed with SIGKILL, restarted, and left to
drain. Group trial: one Alertmanager delivery of 3,000 alerts is acknowledged, the server is
killed with SIGKILL after a random delay while the workers apply it slice by slice, restarted,
and left to drain. Each trial counts acknowledged alerts that are not stored (lost) and stored
alerts delivered more than once (processed twice). The suite's version is
tests/e2e/test_serve_lifecycle.py (one storm trial) and tests/ingest/test_large_groups.py.
Exit status 1 if any trial lost or doubled anything.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.big_group import group_body  # noqa: E402
from tests.e2e.server import ServerProcess  # noqa: E402
from tests.e2e.test_serve_lifecycle import storm, wait_for  # noqa: E402


def config_in(directory: Path) -> Path:
    config = directory / "config.toml"
    config.write_text(
        f'data_dir = "{directory / "var"}"\n[ingest]\nmax_body_bytes = 4194304\n'
        "[workers]\nthreads = 2\npoll_interval_seconds = 0.05\n"
    )
    return config


def drain(config: Path, timeout: float = 300.0) -> None:
    restarted = ServerProcess(config).start(timeout=120)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pending(config) > 0:
            time.sleep(0.2)
    finally:
        restarted.terminate()


def database(config: Path) -> sqlite3.Connection:
    return sqlite3.connect(config.parent / "var" / "conductor.sqlite3", timeout=30)


def pending(config: Path) -> int:
    with database(config) as db:
        return int(db.execute("SELECT count(*) FROM raw_events WHERE status = 'pending'").fetchone()[0])


def alert_rows(config: Path, source: str) -> dict[str, int]:
    with database(config) as db:
        rows = db.execute("SELECT fingerprint, deliveries FROM alerts WHERE source = ?", (source,)).fetchall()
    return {str(f): int(d) for f, d in rows}


def storm_trial(directory: Path, rng: random.Random) -> tuple[int, int, int]:
    config = config_in(directory)
    server = ServerProcess(config).start(timeout=120)
    accepted: list[str] = []
    stop = threading.Event()
    threads = storm(server.url, total=4000, clients=16, accepted=accepted, stop=stop)
    wait_for(accepted, rng.randint(100, 600), timeout=120)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    drain(config)
    rows = alert_rows(config, "generic")
    lost = sum(1 for fp in accepted if fp not in rows)
    twice = sum(1 for d in rows.values() if d > 1)
    return len(accepted), lost, twice


def group_trial(directory: Path, rng: random.Random, size: int = 3000) -> tuple[int, int, int]:
    config = config_in(directory)
    server = ServerProcess(config).start(timeout=120)
    answer = httpx.post(
        f"{server.url}/webhooks/alertmanager",
        content=group_body(size),
        headers={"content-type": "application/json"},
        timeout=120,
    )
    assert answer.status_code == 202, answer.text
    time.sleep(rng.uniform(0.5, 4.0))
    server.kill()
    with database(config) as db:
        done_at_kill = int(db.execute("SELECT max(alerts_done) FROM raw_events").fetchone()[0] or 0)
    drain(config)
    rows = alert_rows(config, "alertmanager")
    lost = sum(1 for i in range(size) if f"{i:016x}" not in rows)
    twice = sum(1 for d in rows.values() if d > 1)
    print(f"    killed with {done_at_kill} of {size} alerts applied", flush=True)
    return size, lost, twice


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--storms", type=int, default=10)
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    totals = {"trials": 0, "acknowledged": 0, "lost": 0, "twice": 0}
    trials = [("storm", storm_trial)] * args.storms + [("group", group_trial)] * args.groups
    for n, (kind, trial) in enumerate(trials, 1):
        with tempfile.TemporaryDirectory(prefix="kill-trial-") as tmp:
            acknowledged, lost, twice = trial(Path(tmp), rng)
        print(
            f"trial {n} ({kind}): acknowledged {acknowledged} alerts, lost {lost}, processed twice {twice}",
            flush=True,
        )
        totals["trials"] += 1
        totals["acknowledged"] += acknowledged
        totals["lost"] += lost
        totals["twice"] += twice
    print(
        f"{totals['trials']} kill -9 trials: {totals['acknowledged']} acknowledged alerts, "
        f"{totals['lost']} lost, {totals['twice']} processed twice"
    )
    return 1 if totals["lost"] or totals["twice"] else 0


if __name__ == "__main__":
    sys.exit(main())
