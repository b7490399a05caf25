"""``/health``, ``/config``, ``/agents`` and the run routes: start a run, continue one.

``POST /agents/{agent_id}/runs`` streams the run's events as SSE by default (``stream``
true, as in AgentOS) or answers with the run as JSON. A run that needs an approval ends
``PAUSED`` (the ``RunPaused`` event, or ``status: "PAUSED"``); once its approvals are
resolved (``/approvals/{id}/resolve``, or AgentOS-style ``tools`` with ``confirmed``
flags here), ``POST .../runs/{run_id}/continue`` takes it up, in any worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal, cast

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from agno_nb.runtime import _agentos, sse
from agno_nb.runtime._body import BODY_ERRORS, body_spec, read_body
from agno_nb.runtime._http import ERRORS, Who, effective_user, find_agent
from agno_nb.runtime.schemas import (
    AgentDetail,
    AgentSummary,
    ConfigOut,
    ContinueRequest,
    ErrorOut,
    HealthOut,
    RunOut,
    RunRequest,
)

if TYPE_CHECKING:
    from starlette.responses import Response

    from agno_nb import events as ev
    from agno_nb.run import RunOutput
    from agno_nb.runtime.app import Service
    from agno_nb.runtime.auth import Caller

__all__ = ["router"]

_STREAM_DOC = {
    "description": "The run: SSE events (stream=true, the default) or the run as JSON",
    "model": RunOut,
    "content": {
        "text/event-stream": {
            "example": 'event: RunStarted\ndata: {"event":"RunStarted","run_id":"run_..."}\n\n'
        }
    },
}
_CONFLICT = {"description": "Not paused, undecided, or being continued", "model": ErrorOut}
_RUN_ERRORS = {**ERRORS, **BODY_ERRORS}


def router(service: Service) -> APIRouter:
    api = APIRouter()
    # the run routes first: a request is matched against the routes in order

    @api.post(
        "/agents/{agent_id}/runs",
        tags=["Agents"],
        response_model=None,
        responses={200: _STREAM_DOC, **_RUN_ERRORS},
        openapi_extra=body_spec(RunRequest),
    )
    async def create_run(agent_id: str, request: Request, who: Who) -> Response:
        """Run the agent on ``message`` (JSON, multipart or urlencoded form fields)."""
        agent = find_agent(service, agent_id)
        body = await read_body(request, RunRequest)
        user_id = effective_user(who, body.user_id)
        events = agent.arun(body.message, stream=True, user_id=user_id, session_id=body.session_id)
        if body.stream:
            return await sse.stream_response(events, agent.name, agentos=body.events == "agentos")
        return sse.run_json(await sse.collect(events))

    @api.post(
        "/agents/{agent_id}/runs/{run_id}/continue",
        tags=["Agents"],
        response_model=None,
        responses={200: _STREAM_DOC, **_RUN_ERRORS, 409: _CONFLICT},
        openapi_extra=body_spec(ContinueRequest),
    )
    async def continue_run(agent_id: str, run_id: str, request: Request, who: Who) -> Response:
        """Continue a paused run whose approvals are resolved (by anyone allowed)."""
        agent = find_agent(service, agent_id)
        body = await read_body(request, ContinueRequest)
        effective_user(who, body.user_id)
        run = await run_in_threadpool(service.store.get_run, run_id)
        if run is None or run.agent_id != agent.id or not who.owns(run.user_id):
            raise HTTPException(404, f"no run {run_id!r} of agent {agent.id!r}")
        if body.tools:
            tools = cast("list[dict[str, Any]]", body.tools)  # parsed if sent as text
            await run_in_threadpool(_decide_from_tools, service, who, run, tools)
        events = cast("AsyncIterator[ev.RunEvent]", agent.acontinue_run(run_id, stream=True))
        if body.stream:
            return await sse.stream_response(events, agent.name, agentos=body.events == "agentos")
        return sse.run_json(await sse.collect(events))

    @api.get("/health", tags=["Health"], response_model=HealthOut)
    async def health() -> dict[str, Any]:
        """Liveness: no credentials needed."""
        return {
            "status": "ok",
            "instantiated_at": service.started_at.isoformat(),
            "agents": len(service.agents),
        }

    @api.get("/config", tags=["Core"], response_model=ConfigOut, responses=ERRORS)
    async def config(who: Who) -> dict[str, Any]:
        """The service and its agents, in AgentOS's ``ConfigResponse`` shape."""
        agents = [_agentos.agent_summary(a, service.db_id) for a in service.agents.values()]
        models = {(a["model"]["id"], a["model"]["provider"]) for a in agents}
        dbs = {"dbs": [{"db_id": service.db_id, "tables": ["sessions", "runs"]}]}
        return {
            "os_id": service.title,
            "name": service.title,
            "description": service.description,
            "available_models": [{"id": m, "provider": p} for m, p in sorted(models)],
            "os_database": service.db_id,
            "databases": [service.db_id],
            "session": dbs,
            "traces": {"dbs": [{"db_id": service.db_id, "tables": ["spans"]}]},
            "agents": agents,
            "teams": [],
            "workflows": [],
            "interfaces": [],
        }

    @api.get("/agents", tags=["Agents"], response_model=list[AgentSummary], responses=ERRORS)
    async def list_agents(who: Who) -> list[dict[str, Any]]:
        return [_agentos.agent_summary(a, service.db_id) for a in service.agents.values()]

    @api.get("/agents/{agent_id}", tags=["Agents"], response_model=AgentDetail, responses=ERRORS)
    async def get_agent(agent_id: str, who: Who) -> dict[str, Any]:
        """The agent with its tools and their approval policies."""
        return _agentos.agent_detail(find_agent(service, agent_id), service.db_id)

    return api


def _decide_from_tools(
    service: Service, who: Caller, run: RunOutput, tools: list[dict[str, Any]]
) -> None:
    """AgentOS's way: tool executions with ``confirmed`` decide the run's approvals, as
    the caller (``decide`` checks the role). A decision already made the same way is
    accepted as is, so a client may resolve first and confirm again here. (``tools``
    sent as JSON text was parsed when the body was read.)"""
    by_call = {a.tool_call_id: a for a in service.desk.list(run_id=run.run_id)}
    for tool in tools:
        call_id = tool.get("tool_call_id") or tool.get("id")
        confirmed = tool.get("confirmed")
        approval = by_call.get(call_id) if isinstance(call_id, str) else None
        if approval is None or not isinstance(confirmed, bool):
            continue
        if approval.status == ("approved" if confirmed else "rejected"):
            continue
        note = tool.get("confirmation_note")
        reason = note if isinstance(note, str) and note else None
        decision: Literal["approved", "rejected"] = "approved" if confirmed else "rejected"
        service.desk.decide(approval, decision, who.principal, reason=reason)
