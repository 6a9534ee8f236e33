"""/api/docs (Swagger UI) and /api/openapi.json, behind the same read check as the API: viewer,
unless `[permissions] anonymous_read` includes "docs" (a browser sends no bearer token, so open
them that way to browse the docs)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from bot.http.access import reading

OPENAPI_URL = "/api/openapi.json"
router = APIRouter(dependencies=[Depends(reading("docs"))], include_in_schema=False)


@router.get(OPENAPI_URL)
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/api/docs")
async def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{request.app.title} API")
