"""Hostile bodies get a 4xx, never a 5xx: nesting, NaN and Infinity, half surrogate pairs,
size, in every body encoding and on every route that reads a body; and every 4xx is valid
JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request

from agno_nb.exceptions import ConfigError
from agno_nb.runtime import create_app
from agno_nb.runtime._body import invalid_request
from agno_nb.runtime._json import MAX_DEPTH, JSONRefused, loads
from agno_nb.runtime.app import DEFAULT_MAX_BODY_BYTES
from tests.approval_agent import build
from tests.service_support import KEYS, ROOT_KEY, as_user, client_for

ROOT = Path(__file__).resolve().parents[1]
# every route that reads a body, with a field its model validates (made-up ids: the body
# is read and checked before the run or approval is looked up)
ROUTES = {
    "runs": ("/agents/support/runs", "message"),
    "continue": ("/agents/support/runs/run_nope/continue", "stream"),
    "resolve": ("/approvals/apr_nope/resolve", "status"),
}
JSON = {**as_user(ROOT_KEY), "content-type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000


def strict_json(reply: httpx2.Response) -> Any:
    """The body as JSON, refusing what Python's json accepts but JSON does not."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the response: {reply.text[:200]}")

    return json.loads(reply.text, parse_constant=refuse)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app([build(str(tmp_path / "limits.duckdb"))], auth=KEYS)
    async with client_for(app, raise_errors=False) as client:
        yield client


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "body", [DEEP, b'{"x": ' + DEEP + b"}", b'{"x": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000]
)
async def test_bodies_nested_past_the_limit_are_400_naming_it(
    api: httpx2.AsyncClient, route: str, body: bytes
) -> None:
    path, _ = ROUTES[route]
    reply = await api.post(path, content=body, headers=JSON)
    assert reply.status_code == 400, reply.text[:300]
    assert f"deeper than {MAX_DEPTH} levels" in strict_json(reply)["detail"]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"m": "[" * 1000, "n": "{" * 1000}),  # brackets in strings
        json.dumps(["\\", '"[' * 100, '\\"{{' * 100, "x\\"]),  # escapes around them
        "[" * MAX_DEPTH + '"]]]\\\\"' + "]" * MAX_DEPTH,  # an escaped backslash, then "
    ],
)
def test_brackets_in_strings_do_not_count(text: str) -> None:
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)
    with pytest.raises(JSONRefused, match=f"deeper than {MAX_DEPTH} levels"):
        loads("[" * MAX_DEPTH + text + "]" * MAX_DEPTH)


@pytest.mark.parametrize("route", ROUTES)
async def test_nesting_up_to_the_limit_is_read(api: httpx2.AsyncClient, route: str) -> None:
    path, _ = ROUTES[route]
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    reply = await api.post(path, content=f'{{"x": {nested}}}', headers=JSON)
    assert reply.status_code in (404, 422), reply.text[:300]  # read, then judged
    deeper = await api.post(path, content=f'{{"x": [{nested}]}}', headers=JSON)
    assert deeper.status_code == 400, deeper.text[:300]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
async def test_nan_and_infinity_are_not_json_and_get_400(
    api: httpx2.AsyncClient, route: str, constant: str
) -> None:
    path, field = ROUTES[route]
    for body in (f'{{"{field}": {constant}}}', f'{{"x": {{"y": [1, {constant}]}}}}'):
        reply = await api.post(path, content=body, headers=JSON)
        assert reply.status_code == 400, (body, reply.text[:300])
        detail = strict_json(reply)["detail"]
        assert "not valid JSON" in detail and "NaN and infinite numbers are not JSON" in detail


@pytest.mark.parametrize("route", ROUTES)
async def test_half_a_surrogate_pair_is_400(api: httpx2.AsyncClient, route: str) -> None:
    """``"\\ud800"`` parses in Python to a string that UTF-8 (and so the answer) refuses."""
    path, field = ROUTES[route]
    for escape in (r"\ud800", r"x\udfff", r"\ude00\ud83d"):
        reply = await api.post(path, content=f'{{"{field}": "{escape}"}}', headers=JSON)
        assert reply.status_code == 400, (escape, reply.text[:300])
        assert "half of a UTF-16 surrogate pair" in strict_json(reply)["detail"]
    paired = await api.post(path, content=f'{{"{field}": "\\ud83d\\ude00"}}', headers=JSON)
    assert paired.status_code in (200, 404, 422), paired.text  # an emoji: read, then judged


@pytest.mark.parametrize("route", ROUTES)
async def test_numbers_json_cannot_hold_are_400(api: httpx2.AsyncClient, route: str) -> None:
    path, field = ROUTES[route]
    reply = await api.post(path, content=f'{{"{field}": {"9" * 5000}}}', headers=JSON)
    assert reply.status_code == 400 and "not valid JSON" in strict_json(reply)["detail"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("encoding", ["json", "form", "multipart", "chunked"])
async def test_a_body_past_the_default_limit_is_413(
    api: httpx2.AsyncClient, route: str, encoding: str
) -> None:
    path, field = ROUTES[route]
    big = "x" * DEFAULT_MAX_BODY_BYTES
    kwargs: dict[str, Any] = {
        "json": {"json": {field: big}},
        "form": {"data": {field: big}},
        "multipart": {"files": {field: (None, big)}},
        "chunked": {"content": _chunks(json.dumps({field: big}).encode()), "headers": JSON},
    }[encoding]
    kwargs.setdefault("headers", as_user(ROOT_KEY))
    reply = await api.post(path, **kwargs)
    assert reply.status_code == 413, reply.text[:300]
    detail = strict_json(reply)["detail"]
    assert f"{DEFAULT_MAX_BODY_BYTES} bytes" in detail and "AGNO_NB_MAX_BODY_BYTES" in detail


async def test_the_body_limit_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = build(str(tmp_path / "small.duckdb"))
    path = ROUTES["continue"][0]
    at_limit = json.dumps({"stream": False, "x": "y" * 1000}).encode()
    for app in (
        create_app([agent], auth=KEYS, max_body_bytes=len(at_limit)),
        _with_env(monkeypatch, str(len(at_limit)), lambda: create_app([agent], auth=KEYS)),
    ):
        async with client_for(app, raise_errors=False) as api:
            fits = await api.post(path, content=at_limit, headers=JSON)
            assert fits.status_code == 404, fits.text  # read; the run is made up
            over = await api.post(path, content=at_limit + b" ", headers=JSON)
            assert over.status_code == 413 and f"{len(at_limit)} bytes" in over.text
            streamed = await api.post(path, content=_chunks(at_limit + b" "), headers=JSON)
            assert streamed.status_code == 413, streamed.text
    for wrong in ("0", "-5", "lots"):
        with pytest.raises(ConfigError, match="AGNO_NB_MAX_BODY_BYTES"):
            _with_env(monkeypatch, wrong, lambda: create_app([agent], auth=KEYS))


@pytest.mark.parametrize(
    ("tools", "says"),
    [
        ("[" * 40_000 + "]" * 40_000, f"deeper than {MAX_DEPTH} levels"),
        ('[{"tool_call_id": "call_1", "confirmed": NaN}]', "NaN and infinite numbers"),
        ('[{"tool_call_id": "call_1", "confirmed": true', "not valid JSON"),
        ('{"tool_call_id": "call_1"}', "must be a JSON list of tool executions"),
    ],
)
async def test_json_in_form_fields_is_bounded_too(
    api: httpx2.AsyncClient, tools: str, says: str
) -> None:
    """AgentOS clients send ``tools`` as a JSON string in a form field."""
    path = ROUTES["continue"][0]
    reply = await api.post(path, data={"tools": tools}, headers=as_user(ROOT_KEY))
    assert reply.status_code == 422, reply.text[:300]
    [error] = strict_json(reply)["detail"]
    assert error["loc"] == ["body", "tools"] and says in error["msg"]


async def test_validation_errors_render_any_input() -> None:
    """Whatever a validation error holds (NaN, bytes, numbers too long to print, half a
    surrogate pair, objects), the 422 is valid JSON; what cannot be shown is left out."""
    odd = [float("nan"), -float("inf"), b"\xff", 10**5000, "\ud800", object()]
    odd.append({"a": [float("nan")]})
    errors = [
        {"type": "x", "loc": ("body", "f", 0), "msg": "bad", "input": v, "ctx": {"v": v}}
        for v in odd
    ] + [{"type": "missing", "loc": ("query", "limit"), "msg": "Field required", "input": "3"}]
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": []})
    response = await invalid_request(request, RequestValidationError(errors))
    assert response.status_code == 422
    shown = json.loads(bytes(response.body), parse_constant=lambda c: pytest.fail(c))["detail"]
    assert [e["loc"] for e in shown[:2]] == [["body", "f", 0]] * 2
    assert all("input" not in e and "ctx" not in e for e in shown[:-1])
    assert shown[-1]["input"] == "3"


def test_the_limits_are_documented() -> None:
    doc = (ROOT / "docs" / "service.md").read_text()
    assert f"{DEFAULT_MAX_BODY_BYTES:,}" in doc and f"{MAX_DEPTH} levels" in doc
    assert "AGNO_NB_MAX_BODY_BYTES" in doc and "413" in doc


async def _chunks(body: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    """The body sent chunked, without a Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _with_env(monkeypatch: pytest.MonkeyPatch, value: str, make: Any) -> Any:
    with monkeypatch.context() as patch:
        patch.setenv("AGNO_NB_MAX_BODY_BYTES", value)
        return make()
