"""Schema-driven fuzz of every route in the OpenAPI document, counting requests and 5xx answers.

    .venv/bin/python benchmarks/api_fuzz.py [--examples 300]

The same check as tests/http/test_api_fuzz.py (schemathesis cases generated from
/api/openapi.json, sent with a valid API token to the app on a fresh SQLite store), run with
more examples per operation. Prints the requests sent and the cases answered 5xx; exit status 1
if any. The figure in docs/security.md comes from this script.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=300, help="generated cases per operation")
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from bot.http.app import create_app
    from bot.logs import configure_logging
    from tests.http.conftest import make_runtime
    from tests.http.test_api_fuzz import SETTINGS, TOKEN, fuzz

    os.environ["CONDUCTOR_FUZZ_TOKEN"] = TOKEN
    configure_logging(level="error")
    runtime = make_runtime(Path(tempfile.mkdtemp(prefix="api-fuzz-")), **SETTINGS)
    app = create_app(runtime, background=False)
    with TestClient(app):
        sent, failures = fuzz(app, examples=args.examples)
    runtime.store.dispose()
    by_code = ", ".join(f"{code}: {n}" for code, n in sorted(sent.items()))
    print(f"requests sent {sum(sent.values())} ({by_code}); answered 5xx {len(failures)}")
    for failure in failures[:20]:
        print(f"  {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
