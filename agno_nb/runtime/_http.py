"""FastAPI glue shared by the routes: the caller dependency, the acting user, agents by id,
and the error responses the OpenAPI document lists (request bodies: ``_body``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from agno_nb.runtime.auth import AuthFailure, Caller, is_loopback
from agno_nb.runtime.schemas import ErrorOut

if TYPE_CHECKING:
    from agno_nb.agent import Agent
    from agno_nb.runtime.app import Service

__all__ = ["ERRORS", "Who", "current_caller", "effective_user", "find_agent"]

_bearer = HTTPBearer(auto_error=False, description="An API key or a JWT")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "model": ErrorOut}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("Missing or invalid credentials"),
    403: _error("The caller may not do this (user_id of another user, wrong role)"),
    404: _error("Not found, or not the caller's"),
    422: _error("Invalid request"),
}


async def current_caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Caller:
    """The FastAPI dependency that authenticates a request (401 if it cannot)."""
    service: Service = request.app.state.service
    auth = service.auth
    if not auth.enabled and not service.insecure:
        server = request.scope.get("server")
        if server and not is_loopback(str(server[0])):
            raise HTTPException(
                403,
                "this service has no auth configured and answers local connections only "
                "(configure API keys or JWT, or start it with --insecure)",
            )
    header = f"Bearer {bearer.credentials}" if bearer is not None else None
    try:
        return auth.authenticate(header, api_key)
    except AuthFailure as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


Who = Annotated[Caller, Depends(current_caller)]
"""The authenticated caller, as a route parameter: ``who: Who``."""


def effective_user(caller: Caller, requested: str | None) -> str:
    """The user a request acts for: the credential's, or another one for admins only."""
    if requested is None or requested == caller.user_id:
        return caller.user_id
    if caller.is_admin:
        return requested
    raise HTTPException(
        403,
        f"user_id {requested!r} does not match the credential's user ({caller.user_id!r}); "
        "only admins act for other users",
    )


def find_agent(service: Service, agent_id: str) -> Agent:
    agent = service.agents.get(agent_id)
    if agent is None:
        known = ", ".join(sorted(service.agents))
        raise HTTPException(404, f"no agent {agent_id!r} here; agents: {known}")
    return agent
