"""FastAPI glue shared by the routes: the caller dependency, request bodies in any of the
three encodings AgentOS accepts, and the error responses the OpenAPI document lists."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from agno_nb.runtime.auth import AuthFailure, Caller, is_loopback
from agno_nb.runtime.schemas import ErrorOut

if TYPE_CHECKING:
    from agno_nb.agent import Agent
    from agno_nb.runtime.app import Service

__all__ = [
    "ERRORS",
    "Who",
    "body_spec",
    "current_caller",
    "effective_user",
    "find_agent",
    "read_body",
]

M = TypeVar("M", bound=BaseModel)

_bearer = HTTPBearer(auto_error=False, description="An API key or a JWT")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


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


async def read_body(request: Request, model: type[M]) -> M:
    """The body as ``model``: JSON, a multipart form or an urlencoded form (file parts are
    ignored). Invalid bodies are 400, 415 or 422 with a message naming the problem."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    if content_type == "application/json" or content_type.endswith("+json"):
        raw = await request.body()
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise HTTPException(400, f"the body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise HTTPException(422, "the JSON body must be an object")
    elif content_type in _FORMS:
        try:
            form = await request.form()
        except Exception as exc:  # malformed multipart or a body past the form limits
            raise HTTPException(400, f"malformed form body: {exc}") from None
        try:
            data = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        finally:
            await form.close()  # uploaded files are spooled to temporary files
    elif not content_type and not await request.body():
        data = {}
    else:
        raise HTTPException(
            415, "send the fields as JSON, multipart/form-data or x-www-form-urlencoded"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(_located(exc)) from None


def _located(exc: ValidationError) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for found in exc.errors(include_url=False, include_context=False):
        error: dict[str, Any] = {**found, "loc": ("body", *found["loc"])}
        if not isinstance(error.get("input"), str | int | float | bool):
            error.pop("input", None)
        errors.append(error)
    return errors


def body_spec(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting the body in its three encodings."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    content = {"application/json": {"schema": schema}}
    content.update({form: {"schema": schema} for form in _FORMS})
    return {"requestBody": {"required": True, "content": content}}
