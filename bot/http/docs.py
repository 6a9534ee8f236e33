"""/api/docs (Swagger UI) and /api/openapi.json, behind the same read check as the API: viewer,
unless `[permissions] anonymous_read` includes "docs" (a browser sends no bearer token, so open
them that way to browse the docs).

Every asset is served from here (the Swagger UI bundle shipped by the fastapi-offline package, under
/api/docs/static): the page works with no network, no CDN.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from bot.http.access import reading

OPENAPI_URL = "/api/openapi.json"
STATIC_URL = "/api/docs/static"
SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"
router = APIRouter(dependencies=[Depends(reading("docs"))], include_in_schema=False)


@router.get(OPENAPI_URL)
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/api/docs")
async def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=f"{request.app.title} API",
        swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
        swagger_favicon_url=f"{STATIC_URL}/favicon.png",
    )


def mount_assets(app: FastAPI) -> None:
    """The Swagger UI's JavaScript, CSS and icon (public files: no secret in them)."""
    app.mount(STATIC_URL, StaticFiles(directory=SWAGGER_ASSETS), name="swagger-assets")
