"""`make demo` (`python -m bot.demo`): the bot at work with no cloud account.

1. Starts a local AWS (moto in server mode, from the `demo` extra) with an ECS service
   `demo/checkout-api` at 2 tasks and one EC2 instance.
2. Starts `conductor serve` with config.demo.toml, pointed at that AWS.
3. Sends a HighCPU alert for checkout-api: an incident opens, the rule picks
   aws.ecs.scale_service (+2 tasks), the gate lets it run; the alert then clears and the run is
   verified. Sends an InstanceStuck alert: the reboot waits for your approval in the console.
4. Prints each step as it happens, then `conductor report`, and where to look next.

Then it keeps running (Ctrl-C stops both servers) so you can open the console; `--once` stops
right away (the test uses it).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bot.runbook_testing.moto import MotoServer

DEMO_TOKEN = "demo"  # the demo config's token; a demo value, set only in the demo's environment
ROOT = Path(__file__).resolve().parents[1]


def say(text: str) -> None:
    print(text, flush=True)


def wait_for(check: Callable[[], Any], *, what: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"demo: timed out waiting for {what}")


def start_aws() -> MotoServer:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines
    try:
        return MotoServer().start()
    except RuntimeError:
        raise SystemExit(
            "demo: moto is not installed: `make demo` installs it (pip install -e '.[demo]')"
        ) from None


def seed_aws(aws: MotoServer) -> str:
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="demo")
    ecs.register_task_definition(
        family="checkout-api", containerDefinitions=[{"name": "api", "image": "shop/checkout", "memory": 256}]
    )
    ecs.create_service(
        cluster="demo", serviceName="checkout-api", taskDefinition="checkout-api", desiredCount=2
    )
    reservation = aws.client("ec2").run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    return str(reservation["Instances"][0]["InstanceId"])


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}

    def get(self, path: str) -> Any:
        answer = httpx.get(f"{self.url}{path}", headers=self.headers, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def alert(self, body: dict[str, Any]) -> None:
        httpx.post(f"{self.url}/webhooks/generic", json=body, timeout=10).raise_for_status()

    def incident(self, title: str) -> dict[str, Any] | None:
        found = [i for i in self.get("/api/incidents?status=all")["incidents"] if i["title"] == title]
        return found[0] if found else None

    def runs(self, incident_id: int) -> list[dict[str, Any]]:
        return [r for r in self.get("/api/runs")["runs"] if r["incident_id"] == incident_id]


def run_demo(config: Path, port: int, *, once: bool) -> int:
    aws = start_aws()
    env = {
        **os.environ,
        **aws.environ(),
        "CONDUCTOR_DEMO_TOKEN": DEMO_TOKEN,
        # a fresh store each time, so the walk-through starts from nothing
        "CONDUCTOR_DATA_DIR": tempfile.mkdtemp(prefix="conductor-demo-"),
    }
    say(f"1/5 local AWS (moto) at {aws.url}: ECS service demo/checkout-api with 2 tasks, one EC2 instance")
    instance = seed_aws(aws)
    log = Path(env["CONDUCTOR_DATA_DIR"]) / "serve.log"
    say(f"2/5 starting conductor serve with {config} on port {port} (store and log: {log.parent})")
    serve = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "bot", "serve", "--config", str(config), "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    api = Api(url)
    try:
        wait_for(lambda: _ready(url, serve), what="conductor serve to be ready (see its serve.log)")
        say("3/5 alert: HighCPU on checkout-api")
        api.alert(_cpu_alert("firing"))
        title = "HighCPU on demo/checkout-api"
        incident = wait_for(lambda: api.incident(title), what="the incident")
        say(f"    incident {incident['id']} opened: {incident['title']}")
        decided = wait_for(
            lambda: (api.incident(title) or {}).get("decision", {}).get("decision") and api.incident(title),
            what="the decision",
        )
        say(f"    decision: {decided['decision']['decision']}: {decided['decision']['reason']}")
        run = wait_for(
            lambda: [
                r
                for r in api.runs(incident["id"])
                if r["status"] in ("verifying", "succeeded", "failed", "ineffective")
            ],
            what="the run",
        )[0]
        say(
            f"    run {run['id']}: {run['runbook']} on {run['target']} -> {run['status']} "
            f"({run['plan'].get('summary', '')})"
        )
        say("    the CPU alert clears")
        api.alert(_cpu_alert("resolved"))
        done = wait_for(
            lambda: [
                r for r in api.runs(incident["id"]) if r["status"] in ("succeeded", "failed", "ineffective")
            ],
            what="the run to be verified",
        )[0]
        say(f"    run {done['id']} {done['status']}: {done['reason']}")
        say(f"4/5 alert: InstanceStuck on {instance} (the reboot needs a human)")
        api.alert(_stuck_alert(instance))
        approval = wait_for(lambda: api.get("/api/approvals")["approvals"], what="the approval request")[0]
        say(f"    approval {approval['id']} waits: {approval['runbook']} on {approval['target']}")
        say("5/5 the KPIs so far (conductor report):")
        report = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "bot", "report", "--since", "1d", "--config", str(config)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        for line in report.stdout.splitlines():
            say(f"    {line}")
        say("")
        say(f"Open the console: {url}/ui/  (sign in with the demo token: {DEMO_TOKEN})")
        say(
            f"  - incident {incident['id']}: the decision, the run's plan (desiredCount 2 -> 4), "
            "timeline and audit"
        )
        say(f"  - Approvals: approve or deny the reboot of {instance}")
        say(f"  - KPIs: {url}/ui/kpis   API docs: {url}/api/docs")
        if once:
            return 0
        say("Ctrl-C stops the demo.")
        serve.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if serve.poll() is None:
            serve.terminate()
            serve.wait(timeout=30)
        aws.stop()


def _ready(url: str, serve: subprocess.Popen[bytes]) -> bool:
    if serve.poll() is not None:
        raise SystemExit(f"demo: conductor serve exited with {serve.returncode} (see its serve.log)")
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _cpu_alert(status: str) -> dict[str, Any]:
    return {
        "name": "HighCPU",
        "status": status,
        "severity": "error",
        "summary": "CPU above 85% for 5 minutes",
        "labels": {"service": "checkout-api"},
        "resource": {
            "provider": "aws",
            "type": "ecs:service",
            "id": "demo/checkout-api",
            "region": "us-east-1",
        },
    }


def _stuck_alert(instance: str) -> dict[str, Any]:
    return {
        "name": "InstanceStuck",
        "status": "firing",
        "severity": "critical",
        "summary": "status checks failing",
        "resource": {"provider": "aws", "type": "ec2:instance", "id": instance, "region": "us-east-1"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Cloud Conductor demo: no cloud account needed.")
    parser.add_argument("--config", type=Path, default=ROOT / "config.demo.toml")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--once", action="store_true", help="stop after the walk-through")
    args = parser.parse_args()
    sys.exit(run_demo(args.config, args.port, once=args.once))


if __name__ == "__main__":
    main()
