"""How long `conductor` takes to start and answer, for commands that do not score.

    .venv/bin/python benchmarks/cli_startup.py [--runs 7]

Each command runs `--runs` times as its own process (a cold interpreter, warm file cache) on a fresh
data directory with the embedded defaults; the median and the fastest wall time are printed, with
the load average, because the figure depends on what else the machine is doing. The first run of
each command is thrown away (it creates the SQLite file and applies the migrations).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONDUCTOR = Path(sys.executable).parent / "conductor"
COMMANDS = (
    ("--help",),
    ("bogus",),
    ("incidents", "list"),
    ("incidents", "list", "--json"),
    ("approvals", "list"),
    ("silences", "list"),
    ("runbooks", "list"),
    ("runbooks", "show", "aws.ecs.scale_service"),
    ("report", "--json"),
)


def time_command(args: tuple[str, ...], *, runs: int, env: dict[str, str]) -> list[float]:
    subprocess.run([str(CONDUCTOR), *args], env=env, capture_output=True, check=False)  # warm-up
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(CONDUCTOR), *args], env=env, capture_output=True, check=False)
        took.append(time.perf_counter() - start)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CONDUCTOR_DATA_DIR": tmp, "CONDUCTOR_CONFIG": ""}
        env.pop("CONDUCTOR_CONFIG")
        print(f"load average before: {os.getloadavg()[0]:.2f}; {args.runs} runs per command")
        print(f"{'command':<42} {'median s':>9} {'fastest s':>10}")
        for command in COMMANDS:
            took = time_command(command, runs=args.runs, env=env)
            print(
                f"{'conductor ' + ' '.join(command):<42} {statistics.median(took):>9.2f} {min(took):>10.2f}"
            )
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
