"""Request bodies: the one place where the service reads them, and how it refuses them.

Every route that takes a body calls ``read_body``: JSON, a multipart form or an
urlencoded form, as AgentOS accepts them. Whatever a client sends, the answer is a 4xx
that is valid JSON, never a 5xx:

* 413: more than the service's ``max_body_bytes`` (4 MiB unless
  ``create_app(max_body_bytes=...)`` or ``$AGNO_NB_MAX_BODY_BYTES`` says otherwise),
  refused on its ``Content-Length`` before it is read, or as it streams in;
* 400: not JSON, JSON nested past ``MAX_DEPTH``, ``NaN`` or infinite numbers (``_json``),
  a malformed form;
* 415: another content type; 422: fields that do not validate (``invalid_request``
  renders them, whatever input they hold).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from agno_nb.runtime import _json
from agno_nb.runtime.schemas import ErrorOut

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.types import Message

    from agno_nb.runtime.app import Service

__all__ = ["BODY_ERRORS", "body_spec", "invalid_request", "read_body"]

M = TypeVar("M", bound=BaseModel)
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed body: not JSON, nested too deep, NaN", "model": ErrorOut},
    413: {"description": "Body larger than the service's limit", "model": ErrorOut},
    415: {"description": "Not JSON, multipart or an urlencoded form", "model": ErrorOut},
}


async def read_body(request: Request, model: type[M]) -> M:
    """The body as ``model``: JSON, a multipart form or an urlencoded form (file parts are
    ignored). Refusals are 400, 413, 415 or 422 with a message naming the problem."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_json = content_type == "application/json" or content_type.endswith("+json")
    if content_type and not is_json and content_type not in _FORMS:
        raise _unsupported()
    raw = await _read_bounded(request)
    data: Any = {}
    if content_type in _FORMS:
        data = await _form_fields(request, raw)
    elif raw.strip():
        if not is_json:
            raise _unsupported()  # a body without a content type
        try:
            data = _json.loads(raw)
        except _json.JSONRefused as exc:
            raise HTTPException(400, str(exc)) from None
        if not isinstance(data, dict):
            raise HTTPException(422, "the JSON body must be an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


async def _read_bounded(request: Request) -> bytes:
    """The whole body, or 413 once it is past the limit (declared or streamed)."""
    service: Service = request.app.state.service
    limit = service.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _unsupported() -> HTTPException:
    return HTTPException(
        415, "send the fields as JSON, multipart/form-data or x-www-form-urlencoded"
    )


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"the body is larger than {limit} bytes, this service's limit "
        "(create_app(max_body_bytes=...) or AGNO_NB_MAX_BODY_BYTES)",
    )


async def _form_fields(request: Request, raw: bytes) -> dict[str, str]:
    """The text fields of a form whose body was read already (``raw``, within the limit,
    which is then the only size limit on a field)."""

    async def replay() -> Message:
        return {"type": "http.request", "body": raw, "more_body": False}

    form_request = Request(request.scope, replay)
    try:
        form = await form_request.form(max_part_size=len(raw) + 1)
    except Exception as exc:  # malformed multipart, too many fields or files
        detail = exc.detail if isinstance(exc, HTTPException) else exc
        raise HTTPException(400, f"malformed form body: {detail}") from None
    try:
        return {key: value for key, value in form.multi_items() if isinstance(value, str)}
    finally:
        await form.close()  # uploaded files are spooled to temporary files


async def invalid_request(request: Request, exc: Exception) -> Response:
    """422 with FastAPI's ``detail`` list, for any error: an ``input`` or ``ctx`` that JSON
    cannot carry (NaN, bytes, an integer too long to print, half a surrogate pair, an
    object) is left out, as is an input that is not a scalar (the whole body, when a
    field is missing)."""
    from agno_nb.runtime.sse import json_response

    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return json_response({"detail": [_shown(error) for error in errors]}, 422)


def _shown(error: Any) -> dict[str, Any]:
    error = error if isinstance(error, dict) else {"msg": str(error)}
    loc = error.get("loc", ())
    shown: dict[str, Any] = {
        "type": str(error.get("type", "value_error")),
        "loc": [part if isinstance(part, int) else str(part) for part in loc],
        "msg": str(error.get("msg", "")),
    }
    value = error.get("input")
    if isinstance(value, str | int | float | bool) and _is_json(value):
        shown["input"] = value
    if isinstance(error.get("ctx"), dict) and _is_json(error["ctx"]):
        shown["ctx"] = error["ctx"]
    return shown


def _is_json(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError too
        return False
    return True


def body_spec(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting the body in its three encodings."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    content = {"application/json": {"schema": schema}}
    content.update({form: {"schema": schema} for form in _FORMS})
    return {"requestBody": {"required": True, "content": content}}
