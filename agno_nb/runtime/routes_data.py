"""Sessions and approvals: what a caller may read, and deciding approvals.

Per-user isolation (on by default): a caller sees their own sessions and runs; admins see
everyone's. Approvals are visible to the user who requested them, to holders of the role
they need, and to approvers (``AuthConfig.approver_roles``); whether a visible approval
may be decided is ``decide``'s call (403 with the reason if not). Things a caller may
not see are 404, as if they did not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from agno_nb.runtime import _agentos
from agno_nb.runtime._body import BODY_ERRORS, body_spec, read_body
from agno_nb.runtime._http import ERRORS, Who
from agno_nb.runtime.schemas import ApprovalOut, ErrorOut, Page, ResolveRequest, SessionDetail

if TYPE_CHECKING:
    from agno_nb.approvals import ApprovalRequest
    from agno_nb.runtime.app import Service
    from agno_nb.runtime.auth import Caller
    from agno_nb.storage import SessionRecord

__all__ = ["page", "router"]

Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page")]
PageNo = Annotated[int, Query(ge=1, le=100_000, alias="page", description="Page, from 1")]
Id = Annotated[str | None, Query(max_length=256)]
_MAX_SCAN = 100_000
_DECIDED = {"description": "Decided already or expired", "model": ErrorOut}


def page(items: list[Any], limit: int, number: int, *, more: bool = False) -> dict[str, Any]:
    """AgentOS's paginated response for the items of page ``number``; ``items`` holds at
    least everything up to that page (``more``: there may be items past them)."""
    start = (number - 1) * limit
    total = len(items) + (1 if more else 0)
    return {
        "data": items[start : start + limit],
        "meta": {
            "page": number,
            "limit": limit,
            "total_pages": -(-total // limit),
            "total_count": total,
        },
    }


def router(service: Service) -> APIRouter:
    api = APIRouter()

    def session_for(session_id: str, who: Caller) -> SessionRecord:
        record = service.store.get_session(session_id)
        if record is None or not who.owns(record.user_id):
            raise HTTPException(404, f"no session {session_id!r}")
        return record

    def approval_for(approval_id: str, who: Caller) -> ApprovalRequest:
        approval = service.store.get_approval(approval_id)
        if approval is None or not who.sees_approval(approval):
            raise HTTPException(404, f"no approval {approval_id!r}")
        return approval

    @api.get("/sessions", tags=["Sessions"], response_model=Page, responses=ERRORS)
    def list_sessions(
        who: Who,
        user_id: Id = None,
        agent_id: Id = None,
        component_id: Annotated[str | None, Query(max_length=256, description="= agent_id")] = None,
        limit: Limit = 20,
        page_number: PageNo = 1,
    ) -> dict[str, Any]:
        """Sessions, most recently active first (a non-admin's own only)."""
        if not who.sees_all():
            user_id = who.user_id
        wanted = min(limit * page_number + 1, _MAX_SCAN)
        records = service.store.list_sessions(
            user_id=user_id, agent_id=agent_id or component_id, limit=wanted
        )
        more = len(records) == wanted
        items = [_agentos.session_summary(r) for r in records[: wanted - 1 if more else None]]
        return page(items, limit, page_number, more=more)

    @api.get(
        "/sessions/{session_id}", tags=["Sessions"], response_model=SessionDetail, responses=ERRORS
    )
    def get_session(session_id: str, who: Who) -> dict[str, Any]:
        record = session_for(session_id, who)
        runs = service.store.list_runs(session_id=session_id, limit=_MAX_SCAN)
        return _agentos.session_detail(record, runs[::-1])

    @api.get(
        "/sessions/{session_id}/runs",
        tags=["Sessions"],
        response_model=list[dict[str, Any]],
        responses=ERRORS,
    )
    def session_runs(
        session_id: str,
        who: Who,
        status: Literal["running", "paused", "completed", "failed", "cancelled"] | None = None,
    ) -> list[dict[str, Any]]:
        """The session's runs, oldest first, in AgentOS's run shape."""
        session_for(session_id, who)
        runs = service.store.list_runs(session_id=session_id, status=status, limit=_MAX_SCAN)
        return [_agentos.run_dict(r) for r in reversed(runs)]

    @api.get("/approvals", tags=["Approvals"], response_model=Page, responses=ERRORS)
    def list_approvals(
        who: Who,
        status: Literal["pending", "approved", "rejected", "expired"] | None = None,
        agent_id: Id = None,
        run_id: Id = None,
        session_id: Id = None,
        limit: Limit = 20,
        page_number: PageNo = 1,
    ) -> dict[str, Any]:
        """Approvals the caller may see, oldest first: an inbox with ``status=pending``."""
        mine_only = not who.sees_all() and not who.principal.roles
        found = service.store.list_approvals(
            status=status, agent_id=agent_id, run_id=run_id, session_id=session_id,
            requested_by=who.user_id if mine_only else None, limit=_MAX_SCAN,
        )  # fmt: skip
        visible = [_agentos.approval_dict(a) for a in found if who.sees_approval(a)]
        return page(visible, limit, page_number)

    @api.get(
        "/approvals/{approval_id}",
        tags=["Approvals"],
        response_model=ApprovalOut,
        responses=ERRORS,
    )
    def get_approval(approval_id: str, who: Who) -> dict[str, Any]:
        return _agentos.approval_dict(approval_for(approval_id, who))

    @api.post(
        "/approvals/{approval_id}/resolve",
        tags=["Approvals"],
        response_model=ApprovalOut,
        responses={**ERRORS, **BODY_ERRORS, 409: _DECIDED},
        openapi_extra=body_spec(ResolveRequest),
    )
    async def resolve_approval(approval_id: str, request: Request, who: Who) -> dict[str, Any]:
        """Approve or reject as the caller; the approval's role rules apply (403 if the
        caller may not decide it, 409 if it is decided or expired). Then continue the run
        with ``POST /agents/{agent_id}/runs/{run_id}/continue``."""
        body = await read_body(request, ResolveRequest)
        return await run_in_threadpool(resolve, approval_id, body, who)

    def resolve(approval_id: str, body: ResolveRequest, who: Caller) -> dict[str, Any]:
        approval = approval_for(approval_id, who)
        if body.args is not None and body.status == "rejected":
            raise HTTPException(422, "args (edited arguments) only go with status 'approved'")
        decided = service.desk.decide(
            approval, body.status, who.principal, reason=body.reason, args=body.args
        )
        return _agentos.approval_dict(decided)

    return api
