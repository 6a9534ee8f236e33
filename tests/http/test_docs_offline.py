"""/api/docs works with no network: the page names only assets this server serves, and they load."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from bot.http.app import create_app
from tests.http.conftest import make_runtime


def test_swagger_ui_is_served_locally(data_dir: Path) -> None:
    runtime = make_runtime(data_dir, permissions={"anonymous_read": ["docs"]})
    try:
        with TestClient(create_app(runtime, background=False)) as client:
            page = client.get("/api/docs")
            assert page.status_code == 200
            urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(
                r"""url: ?['"]([^'"]+)['"]""", page.text
            )
            assert urls, page.text
            assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
            for url in urls:
                answer = client.get(url)
                assert answer.status_code == 200, url
            bundle = client.get("/api/docs/static/swagger-ui-bundle.js")
            assert len(bundle.content) > 100_000 and "SwaggerUIBundle" in bundle.text[:2_000_000]
    finally:
        runtime.store.dispose()
