"""/api/runs and /api/approvals: look at runs, decide approvals (as the token's principal)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bot.engine.approvals import Vote
from bot.engine.views import approval_json, run_json
from bot.errors import AlreadyDecided, ApprovalExpired, ApproverNotAllowed, NotFound
from bot.http.access import caller, reading
from bot.http.api import in_store, runtime_of
from bot.http.params import StoredId
from bot.roles import Principal
from bot.store.models import Approval, RunbookRun

router = APIRouter(prefix="/api", dependencies=[Depends(reading("api"))])


@router.get("/runs")
async def get_runs(request: Request, limit: int = 100, status: str | None = None) -> dict[str, Any]:
    """Newest first; `status=queued` shows the runs waiting for a cap slot, `suggested` the suggestions."""
    runtime = runtime_of(request)
    query = select(RunbookRun).order_by(RunbookRun.id.desc()).limit(min(max(limit, 1), 1000))
    if status:
        query = query.where(RunbookRun.status == status)
    rows = await in_store(runtime, lambda s: [run_json(r) for r in s.scalars(query)])
    return {"runs": rows}


@router.get("/runs/{run_id}")
async def get_run(request: Request, run_id: StoredId) -> dict[str, Any]:
    runtime = runtime_of(request)

    def work(session: Any) -> dict[str, Any]:
        run = session.get(RunbookRun, run_id)
        if run is None:
            raise NotFound(f"no run {run_id}")
        return run_json(run)

    return await in_store(runtime, work)


@router.get("/approvals")
async def get_approvals(request: Request, status: str = "pending") -> dict[str, Any]:
    runtime = runtime_of(request)

    def work(session: Any) -> list[dict[str, Any]]:
        query = select(Approval).order_by(Approval.id.desc()).limit(200)
        if status != "all":
            query = query.where(Approval.status == status)
        return [approval_json(session, a) for a in session.scalars(query)]

    return {"approvals": await in_store(runtime, work)}


class DecisionBody(BaseModel):
    decision: Literal["approve", "deny"]
    reason: str = ""


@router.post("/approvals/{approval_id}")
async def decide_approval(
    request: Request, approval_id: StoredId, body: DecisionBody, who: Annotated[Principal, Depends(caller)]
) -> dict[str, Any]:
    """Approve or deny as the token's principal: `api:<name>`, or — for a trusted-proxy token —
    the person named in `X-Conductor-User`. The run's `[approvals]` entry decides who may."""
    runtime = runtime_of(request)
    try:
        decided = await run_in_threadpool(
            runtime.engine.decide, approval_id, principal=who, vote=Vote(body.decision), reason=body.reason
        )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ApproverNotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    except (AlreadyDecided, ApprovalExpired) as exc:
        raise HTTPException(409, str(exc)) from None
    return dict(decided.__dict__)
