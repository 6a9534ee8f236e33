"""The console's routes under /ui/: each reads or acts as the signed-in token, through the same
permission checks (and audit) as the API and Slack, and renders a template. Plain HTML forms
(POST, then redirect), no JavaScript: every page reads with JavaScript off."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from bot.access.policy import Action, AddSilence, Do
from bot.audit import audit
from bot.console import views
from bot.console.auth import COOKIE, ConsoleSessions, Visitor, check_csrf
from bot.console.errors import ConsoleRoute
from bot.console.pages import HERE, LoginNeeded, page, runtime_of, sessions_of
from bot.engine.approvals import Vote
from bot.errors import ConductorError, NotFound
from bot.incidents import service
from bot.incidents.silences import add_silence, expire_silence, list_silences, silence_json
from bot.kpis.compute import compute_kpis
from bot.kpis.render import report_lines
from bot.matching import parse_matcher
from bot.runtime import Runtime
from bot.timeparse import parse_duration

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=ConsoleRoute)


def _visitor(request: Request) -> Visitor:
    """The signed-in visitor, allowed to read (viewer)."""
    runtime = runtime_of(request)
    visitor = sessions_of(request).visitor(runtime.grants, request.cookies.get(COOKIE))
    if visitor is None:
        raise LoginNeeded(request.url.path)
    runtime.guard.enforce(visitor.principal, Do(Action.READ), subject=f"http:{request.url.path}")
    return visitor


def _back(path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?notice={quote(notice)}", status_code=303)


def _safe_next(path: str) -> str:
    return path if path.startswith("/ui/") and not path.startswith("//") else "/ui/incidents"


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/incidents", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/ui/incidents") -> HTMLResponse:
    return page(request, "login.html", None, next=_safe_next(next), error="")


@router.post("/login")
def login(
    request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/ui/incidents"
) -> Response:
    runtime = runtime_of(request)
    try:
        cookie, visitor = sessions_of(request).sign_in(runtime.grants, token)
    except ConductorError as exc:
        return page(request, "login.html", None, status=401, next=_safe_next(next), error=str(exc))
    with runtime.store.transaction() as session:
        audit(
            session,
            at=runtime.clock(),
            actor=visitor.principal.actor,
            subject="console",
            action="console.signed_in",
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=sessions_of(request).max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
        path="/ui",
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(_visitor(request), csrf)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.get("/incidents")
def incidents(request: Request, status: str = "open", severity: str = "", q: str = "") -> HTMLResponse:
    visitor = _visitor(request)
    status = status if status in views.STATUSES else "open"
    severity = severity if severity in views.SEVERITIES else ""
    with runtime_of(request).store.sessions() as session:
        rows = views.incidents_page(session, status=status, severity=severity, text=q[:200])
    filters = {"status": status, "severity": severity, "q": q[:200]}
    return page(
        request, "incidents.html", visitor, incidents=rows, filters=filters,
        statuses=views.STATUSES, severities=views.SEVERITIES,
    )  # fmt: skip


@router.get("/incidents/{incident_id}")
def incident(request: Request, incident_id: int) -> HTMLResponse:
    visitor = _visitor(request)
    with runtime_of(request).store.sessions() as session:
        data = views.incident_page(session, incident_id)
    return page(request, "incident.html", visitor, **data)


@router.get("/incidents/{incident_id}/chart.png")
def incident_chart(request: Request, incident_id: int) -> Response:
    from bot.slack.charts import render_metric_chart
    from bot.slack.viewmodels import chart_series

    _visitor(request)
    with runtime_of(request).store.sessions() as session:
        found = service.get_incident(session, incident_id)
        series = chart_series(found, service.incident_alerts(session, incident_id))
    if series is None:
        raise NotFound(f"incident {incident_id} has no metric window to chart")
    png = render_metric_chart(
        series.timestamps, series.values, title=series.title, scores=series.scores,
        threshold=series.threshold, value_threshold=series.value_threshold, unit=series.unit,
    )  # fmt: skip
    return Response(png, media_type="image/png")


@router.post("/incidents/{incident_id}/{change}")
def incident_change(
    request: Request, incident_id: int, change: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    visitor = _visitor(request)
    check_csrf(visitor, csrf)
    runtime = runtime_of(request)
    act = {
        "ack": (Action.ACKNOWLEDGE, service.acknowledge),
        "resolve": (Action.RESOLVE, service.resolve),
    }.get(change)
    if act is None:
        raise NotFound(f"no incident action {change!r}")
    runtime.guard.enforce(visitor.principal, Do(act[0]), subject=f"incident:{incident_id}")
    with runtime.store.transaction() as session:
        act[1](session, incident_id, actor=visitor.principal.actor, now=runtime.clock())
    done = "acknowledged" if change == "ack" else "resolved"
    return _back(f"/ui/incidents/{incident_id}", f"incident {incident_id} {done}")


@router.get("/approvals")
def approvals(request: Request, all: bool = False) -> HTMLResponse:
    visitor = _visitor(request)
    with runtime_of(request).store.sessions() as session:
        rows = views.approvals_page(session, include_decided=all)
    return page(request, "approvals.html", visitor, approvals=rows, show_all=all)


@router.post("/approvals/{approval_id}")
def decide(
    request: Request,
    approval_id: int,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    visitor = _visitor(request)
    check_csrf(visitor, csrf)
    vote = Vote(decision) if decision in ("approve", "deny") else None
    if vote is None:
        raise NotFound(f"no decision {decision!r}: approve or deny")
    decided = runtime_of(request).engine.decide(
        approval_id, principal=visitor.principal, vote=vote, reason=reason
    )
    return _back(
        "/ui/approvals",
        f"approval {approval_id}: {decided.approval_status} (run {decided.run_id} {decided.run_status})",
    )


@router.get("/silences")
def silences(request: Request, all: bool = False) -> HTMLResponse:
    visitor = _visitor(request)
    runtime = runtime_of(request)
    now = runtime.clock()
    with runtime.store.sessions() as session:
        rows = [silence_json(s, now) for s in list_silences(session, now=now, include_expired=all)]
    return page(request, "silences.html", visitor, silences=rows, show_all=all)


@router.post("/silences")
def silence_add(
    request: Request,
    matchers: Annotated[str, Form(max_length=2000)],
    duration: Annotated[str, Form(max_length=40)] = "1h",
    comment: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    visitor = _visitor(request)
    check_csrf(visitor, csrf)
    runtime = runtime_of(request)
    parsed = [parse_matcher(m) for m in matchers.split()]
    length: timedelta = parse_duration(duration)
    runtime.guard.enforce(visitor.principal, AddSilence(tuple(parsed), length), subject="silences")
    now = runtime.clock()
    with runtime.store.transaction() as session:
        made = add_silence(
            session, matchers=parsed, starts_at=now, ends_at=now + length, created_by=visitor.principal.actor,
            comment=comment, origin="api", now=now,
        )  # fmt: skip
        made_id = made.id
    return _back("/ui/silences", f"silence {made_id} added")


@router.post("/silences/{silence_id}/expire")
def silence_expire(request: Request, silence_id: int, csrf: Annotated[str, Form()] = "") -> Response:
    visitor = _visitor(request)
    check_csrf(visitor, csrf)
    runtime = runtime_of(request)
    runtime.guard.enforce(visitor.principal, Do(Action.UNSILENCE), subject=f"silence:{silence_id}")
    with runtime.store.transaction() as session:
        expire_silence(session, silence_id, actor=visitor.principal.actor, now=runtime.clock())
    return _back("/ui/silences", f"silence {silence_id} expired")


def _kpis(request: Request, since: str, service_name: str) -> Any:
    runtime = runtime_of(request)
    until = runtime.clock()
    with runtime.store.sessions() as session:
        return compute_kpis(
            session, since=until - parse_duration(since), until=until, service=service_name or None
        )


@router.get("/kpis")
def kpis(request: Request, since: str = "30d", service: str = "") -> HTMLResponse:
    visitor = _visitor(request)
    report = _kpis(request, since[:40], service[:200])
    return page(
        request, "kpis.html", visitor, report=report.to_json(), lines=report_lines(report),
        since=since[:40], service=service[:200],
    )  # fmt: skip


@router.get("/kpis/chart.png")
def kpis_chart(request: Request, since: str = "30d", service: str = "") -> Response:
    from bot.kpis.render import render_kpi_chart

    _visitor(request)
    return Response(render_kpi_chart(_kpis(request, since[:40], service[:200])), media_type="image/png")


def mount_console(app: FastAPI, runtime: Runtime) -> None:
    """Serve the console under /ui/ (unless `[console] enabled = false`)."""
    if not runtime.settings.console.enabled:
        return
    app.state.console_sessions = ConsoleSessions(runtime.settings.console)
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="console-static")
