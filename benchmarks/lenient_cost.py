"""Cost of being lenient: screening and parsing payloads with and without malformed optional fields.

    .venv/bin/python benchmarks/lenient_cost.py [--alerts 2000] [--runs 60]

One process, no server. An Alertmanager group of `--alerts` alerts (the k8s fixture's alerts with
distinct fingerprints) is screened (what the webhook route runs) and parsed (what the workers run),
as is and with two malformed optional fields in *every* alert (``startsAt: "yesterday"``,
``annotations: [1]``), which are emptied alert by alert. A GCP incident (one alert) is parsed as
is and with ``"ended_at": "null"``. Prints the median, min and max of `--runs` timings and the
cost per alert; a payload the code refuses is reported as such (a checkout from before leniency
refuses the malformed ones).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.errors import MalformedPayload  # noqa: E402
from integrations.base import ParseOptions  # noqa: E402
from integrations.registry import get_parser, get_screen  # noqa: E402

PAYLOADS = ROOT / "tests" / "fixtures" / "payloads"


def group(size: int, *, broken: bool) -> bytes:
    document = json.loads((PAYLOADS / "alertmanager__mixed_group_k8s_replica_a.json").read_text())
    alerts = []
    for index in range(size):
        alert = copy.deepcopy(document["alerts"][index % len(document["alerts"])])
        alert["fingerprint"] = f"fp{index:07d}"
        if broken:
            alert["startsAt"] = "yesterday"
            alert["annotations"] = [1]
        alerts.append(alert)
    document["alerts"] = alerts
    return json.dumps(document).encode()


def incident(*, broken: bool) -> bytes:
    document = json.loads((PAYLOADS / "gcp_monitoring__incident_open_v1.2.json").read_text())
    if broken:
        document["incident"]["ended_at"] = "null"
    return json.dumps(document).encode()


def timed(fn: Callable[[], object], runs: int) -> list[float] | None:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        try:
            fn()
        except MalformedPayload:
            return None
        timings.append(time.perf_counter() - started)
    return timings


def report(label: str, timings: list[float] | None, alerts: int) -> None:
    if timings is None:
        print(f"{label:<44} refused")
        return
    median = statistics.median(timings)
    print(
        f"{label:<44} median {median * 1e3:8.2f} ms  min {min(timings) * 1e3:8.2f}  "
        f"max {max(timings) * 1e3:8.2f}  ({median / alerts * 1e6:.1f} us per alert)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=60)
    args = ap.parse_args()
    options = ParseOptions()
    for source, make, alerts in (
        ("alertmanager", lambda broken: group(args.alerts, broken=broken), args.alerts),
        ("gcp", lambda broken: incident(broken=broken), 1),
    ):
        for broken in (False, True):
            body = make(broken)
            shape = "2 bad fields per alert" if broken and source == "alertmanager" else "bad ended_at"
            what = f"{source} {shape if broken else 'sound'}"
            for stage, fn in (("screen", get_screen(source)), ("parse", get_parser(source))):
                report(
                    f"{stage:<6} {what}",
                    timed(lambda fn=fn, body=body: fn(body, headers={}, options=options), args.runs),
                    alerts,
                )


if __name__ == "__main__":
    main()
