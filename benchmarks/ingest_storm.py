"""Ingest storm (issue 3): Alertmanager webhooks into `conductor serve` on SQLite, against a bare endpoint.

    .venv/bin/python benchmarks/ingest_storm.py [--alerts 20000] [--clients 32] [--seed 7] [--runs 3]

Generates realistic Alertmanager v4 webhook deliveries (groups of 1-50 alerts over ~200 Kubernetes
workloads, mixed firing/resolved, a few HA replays of the same group by the second Alertmanager
replica), then, per run:

1. starts `benchmarks/bare_app.py` (same framework, same uvicorn settings, one route that only
   parses JSON and answers 202) and storms it;
2. starts `conductor serve` in a subprocess with a fresh data dir (SQLite, WAL, synchronous=FULL)
   and storms it with the very same requests;
3. checks that what was acknowledged is what is stored: every non-duplicate 202 names a raw event
   whose stored body is byte-for-byte the body sent, the number of raw events equals the number of
   distinct acknowledged deliveries, and the alerts in the stored bodies equal the alerts
   acknowledged; then waits for the workers to drain and counts alerts and incidents.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams (uvloop) with httptools for
response parsing, `--clients` connections each sending its next request as soon as the previous
answer arrives. On 2 cores the load generator shares the CPU with the server; httpx.AsyncClient
costs several times more CPU per request than this, which caps the bare endpoint's rate at the
client's rate and flatters the ratio (`--client httpx` shows it). Exit status 1 if stored !=
acknowledged (or any request failed), else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN_ENV = "BENCH_ALERTMANAGER_TOKEN"
sys.path.insert(0, str(ROOT))

from benchmarks.storm_checks import Figures, Verification, count_outcomes, figures, show, verify, wait_drained  # noqa: E402
from benchmarks.storm_client import TOKEN, run_client  # noqa: E402
from benchmarks.storm_workload import Delivery, generate  # noqa: E402

# ----------------------------------------------------------------------------------------------
# Servers
# ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def server_process(command: list[str], *, ready: str, env: dict[str, str], log: Path) -> Iterator[int]:
    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_ready(ready, proc, log)
        yield proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def conductor_config(directory: Path) -> Path:
    config = directory / "config.toml"
    config.write_text(
        f'data_dir = "{directory / "var"}"\n'
        '[logging]\nlevel = "warning"\n'
        f'[ingest.auth.alertmanager]\nmode = "bearer"\nsecret_env = "{TOKEN_ENV}"\n'
    )
    return config


@dataclass
class RunOutcome:
    bare: Figures
    conductor: Figures
    check: Verification

    @property
    def ratio(self) -> float:
        return self.conductor.requests_per_second / self.bare.requests_per_second


def run_once(
    deliveries: Sequence[Delivery],
    *,
    clients: int,
    client: str,
    work: Path,
    drain_timeout: float,
    bare_passes: int,
) -> RunOutcome:
    env = {**os.environ, TOKEN_ENV: TOKEN, "PYTHONUNBUFFERED": "1"}
    env.pop("CONDUCTOR_CONFIG", None)
    env.pop("CONDUCTOR_DATA_DIR", None)
    env.pop("CONDUCTOR_DATABASE_URL", None)
    python = sys.executable

    port = free_port()
    bare_cmd = [python, str(ROOT / "benchmarks" / "bare_app.py"), "--port", str(port)]
    with server_process(
        bare_cmd, ready=f"http://127.0.0.1:{port}/healthz", env=env, log=work / "bare.log"
    ) as pid:
        # Stateless, so the same requests are sent several times over for a steadier figure.
        sent = list(deliveries) * bare_passes
        bare = figures(
            run_client("127.0.0.1", port, sent, clients=clients, kind=client, server_pid=pid), sent
        )

    port = free_port()
    config = conductor_config(work)
    db = work / "var" / "conductor.sqlite3"
    serve_cmd = [python, "-m", "bot", "serve", "--config", str(config), "--port", str(port)]
    with server_process(
        serve_cmd, ready=f"http://127.0.0.1:{port}/readyz", env=env, log=work / "conductor.log"
    ) as pid:
        started = time.perf_counter()
        storm = run_client("127.0.0.1", port, deliveries, clients=clients, kind=client, server_pid=pid)
        conductor = figures(storm, deliveries)
        check = verify(db, deliveries, storm)
        check.drained_seconds, check.pending_after = wait_drained(db, started, drain_timeout)
        count_outcomes(db, check)
    for message in storm.errors[:5]:
        print(f"  client error: {message}")
    return RunOutcome(bare=bare, conductor=conductor, check=check)


def report_run(n: int, outcome: RunOutcome) -> None:
    v = outcome.check
    print(f"run {n}")
    show("bare", outcome.bare)
    show("conductor", outcome.conductor)
    drained = (
        f"{v.drained_seconds:.1f} s" if v.drained_seconds is not None else f"NOT ({v.pending_after} pending)"
    )
    print(
        f"  ratio to bare (req/s) {outcome.ratio:.2f}; acknowledged {v.acknowledged} "
        f"({v.acknowledged_new} new + {v.duplicates} duplicates) vs stored {v.stored} raw events; "
        f"alerts acknowledged {v.acknowledged_alerts} vs stored {v.stored_alerts}; "
        f"body mismatches {v.mismatched_bodies}"
        + (f"; other statuses {v.other_statuses}" if v.other_statuses else "")
    )
    print(
        f"  drained (all raw events processed) after {drained}; alert rows {v.alerts_rows}; "
        f"incidents created {v.incidents} ({v.incidents_open} still open); "
        f"incident jobs still queued {v.jobs_pending}"
    )
    print(f"  stored == acknowledged: {'yes' if v.ok else 'NO'}")


def summarize(outcomes: Sequence[RunOutcome]) -> None:
    def med(values: Sequence[float]) -> float:
        return statistics.median(values)

    c = [o.conductor for o in outcomes]
    b = [o.bare for o in outcomes]
    print(f"median of {len(outcomes)} run(s)")
    print(
        f"  conductor {med([f.alerts_per_second for f in c]):.0f} alerts/s, "
        f"{med([f.requests_per_second for f in c]):.1f} req/s, p50 {med([f.p50_ms for f in c]):.1f} ms, "
        f"p99 {med([f.p99_ms for f in c]):.1f} ms"
    )
    print(
        f"  bare      {med([f.alerts_per_second for f in b]):.0f} alerts/s, "
        f"{med([f.requests_per_second for f in b]):.1f} req/s, p50 {med([f.p50_ms for f in b]):.1f} ms, "
        f"p99 {med([f.p99_ms for f in b]):.1f} ms"
    )
    print(f"  ratio     {med([o.ratio for o in outcomes]):.2f}")
    drains = [o.check.drained_seconds for o in outcomes if o.check.drained_seconds is not None]
    if drains:
        print(f"  drained   {med(drains):.1f} s after the storm started")
    print(f"  incidents {med([o.check.incidents for o in outcomes]):.0f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=20000, help="alerts to send (HA replays extra)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=1, help="repeat bare + conductor this many times")
    parser.add_argument("--replay-rate", type=float, default=0.02, help="share of groups replayed (HA)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument(
        "--bare-passes", type=int, default=3, help="send the requests this many times to the bare app"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database)")
    args = parser.parse_args(argv)

    deliveries = generate(args.alerts, seed=args.seed, replay_rate=args.replay_rate)
    sizes = [d.alerts for d in deliveries if d.replay_of is None]
    print(
        f"{len(deliveries)} deliveries ({len(sizes)} groups + {len(deliveries) - len(sizes)} HA replays), "
        f"{sum(sizes)} alerts, {statistics.mean(sizes):.1f} alerts/group, "
        f"{statistics.mean(len(d.body) for d in deliveries) / 1024:.1f} KiB/body; "
        f"{args.clients} clients ({args.client}); python {sys.version.split()[0]}, {os.cpu_count()} cpus"
    )
    outcomes = []
    ok = True
    for n in range(1, args.runs + 1):
        work = Path(tempfile.mkdtemp(prefix="ingest-storm-"))
        outcome = run_once(
            deliveries,
            clients=args.clients,
            client=args.client,
            work=work,
            drain_timeout=args.drain_timeout,
            bare_passes=args.bare_passes,
        )
        report_run(n, outcome)
        ok = ok and outcome.check.ok and outcome.conductor.errors == 0
        outcomes.append(outcome)
        if args.keep:
            print(f"  kept {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    summarize(outcomes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
