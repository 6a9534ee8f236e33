"""The bare endpoint the ingest storm compares against: same framework, same server settings,
one POST route that only parses the JSON body and answers 202.

    .venv/bin/python benchmarks/bare_app.py --port 8099
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.server import uvicorn_options  # noqa: E402

app = FastAPI()


@app.post("/webhooks/{source}", status_code=202)
async def receive(source: str, request: Request) -> JSONResponse:
    # The same JSON decoder the conductor parsers use (integrations.common.payload.load_json).
    document = json.loads(await request.body())
    count = len(document.get("alerts") or ()) if isinstance(document, dict) else 0
    return JSONResponse({"status": "accepted", "alerts": count}, status_code=202)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, **uvicorn_options(shutdown_grace_seconds=5.0))


if __name__ == "__main__":
    main()
