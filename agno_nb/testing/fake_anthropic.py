"""A fake Anthropic Messages API server, scripted turn by turn, for tests and demos.

It speaks the wire format of ``POST /v1/messages`` (JSON and SSE streaming) and
``GET /v1/models``, and records every request it receives::

    fake = FakeAnthropic([Turn.tool_call("lookup", {"id": 1}), Turn.text("Found it.")])
    client = AsyncAnthropic(api_key="test", http_client=fake.async_client())  # in-process
    with fake.serve() as url:                                                  # real socket
        client = Anthropic(api_key="test", base_url=url, max_retries=0)

In-process use needs an async client: httpx2's ``ASGITransport`` is async-only, so sync
clients go through :meth:`FakeAnthropic.serve`. In-process, a response is buffered whole
(the client sees every SSE event at once) and the client's read timeout bounds the whole
response.

Script files are JSON, either ``{"turns": [TURN, ...]}`` or ``[TURN, ...]``, where each
TURN object uses the field names of :class:`Turn`, all optional::

    {"turns": [
      {"reply": "Let me look.", "calls": [{"name": "lookup", "input": {"id": 1}}]},
      {"reply": ["Found ", "it."], "stop_reason": "end_turn", "output_tokens": 7},
      {"status": 429},
      {"reply": "cut short", "truncate_after": 3},
      {"reply": "slow", "delay": 2.0, "chunk_delay": 0.1}
    ]}

Command line (prints ``FakeAnthropic listening on URL``, serves until interrupted; without
``--script`` it answers with :func:`default_handler`)::

    python -m agno_nb.testing.fake_anthropic [--script FILE] [--port N] [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from agno_nb.testing._fake_script import (
    RecordedRequest,
    ToolCall,
    Turn,
    default_handler,
    error_type_for,
    load_script,
)

if TYPE_CHECKING:
    import uvicorn

__all__ = ["FakeAnthropic", "RecordedRequest", "ToolCall", "Turn", "default_handler", "main"]

Handler = Callable[[RecordedRequest], Turn]
Event = tuple[str, dict[str, Any]]
FAKE_MODEL = "claude-fake-1"
_RETRY_NOW = {429, 529}


class _TruncatedStream(Exception):
    """Raised inside a streaming response to drop the connection mid-stream."""


class _QuietFaults(logging.Filter):
    """Keeps uvicorn from logging tracebacks for deliberate truncations and for requests
    still pending (say, a slow turn) when the server stops."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, _TruncatedStream | asyncio.CancelledError)


_QUIET_FAULTS = _QuietFaults()
_CUTS: ContextVar[list[bool]] = ContextVar("fake_anthropic_cuts")
_CUT_MESSAGE = (
    "peer closed connection without sending complete message body (incomplete chunked read)"
)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _tokens(text: str) -> int:
    """A rough token count: four characters a token, at least one."""
    return max(1, len(text) // 4)


def _word_chunks(text: str, words: int = 3) -> list[str]:
    """Split ``text`` into pieces of a few words each, keeping all whitespace."""
    tokens = re.findall(r"\s*\S+\s*", text) or [text]
    return ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def _json_pieces(text: str, pieces: int = 3) -> list[str]:
    """JSON text as ``input_json_delta`` pieces, the first one empty."""
    size = max(1, -(-len(text) // pieces))
    return [""] + [text[i : i + size] for i in range(0, len(text), size)]


def _usage(turn: Turn, request: RecordedRequest, output_text: str) -> dict[str, int]:
    """Usage for a reply: the turn's overrides, else estimates from the lengths."""
    prompt = json.dumps([request.messages, request.system, request.tools])
    return {
        "input_tokens": _tokens(prompt) if turn.input_tokens is None else turn.input_tokens,
        "output_tokens": _tokens(output_text) if turn.output_tokens is None else turn.output_tokens,
        "cache_creation_input_tokens": turn.cache_creation_input_tokens,
        "cache_read_input_tokens": turn.cache_read_input_tokens,
    }


def _message(turn: Turn, request: RecordedRequest) -> dict[str, Any]:
    """The complete ``Message`` JSON for a successful turn."""
    blocks: list[dict[str, Any]] = []
    if turn.text_value:
        blocks.append({"type": "text", "text": turn.text_value})
    for call in turn.calls:
        tool_id = call.id or _new_id("toolu")
        blocks.append({"type": "tool_use", "id": tool_id, "name": call.name, "input": call.input})
    output = turn.text_value + "".join(json.dumps(call.input) for call in turn.calls)
    return {
        "id": _new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": turn.model or request.model or FAKE_MODEL,
        "content": blocks,
        "stop_reason": turn.stop_reason or ("tool_use" if turn.calls else "end_turn"),
        "stop_sequence": turn.stop_sequence,
        "usage": _usage(turn, request, output),
    }


def _event(name: str, **data: Any) -> Event:
    return name, {"type": name, **data}


def _block_events(index: int, block: dict[str, Any], turn: Turn) -> list[Event]:
    """``content_block_start``, deltas and ``content_block_stop`` for one block."""
    start: dict[str, Any]
    if block["type"] == "text":
        start = {"type": "text", "text": ""}
        texts = _word_chunks(turn.reply) if isinstance(turn.reply, str) else list(turn.reply)
        deltas = [{"type": "text_delta", "text": text} for text in texts]
    else:
        start = {**block, "input": {}}
        call = turn.calls[index - (1 if turn.text_value else 0)]
        raw = call.raw_input if call.raw_input is not None else json.dumps(block["input"])
        pieces = _json_pieces(raw)
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
    events = [_event("content_block_start", index=index, content_block=start)]
    events += [_event("content_block_delta", index=index, delta=delta) for delta in deltas]
    events.append(_event("content_block_stop", index=index))
    return events


def _stream_events(message: dict[str, Any], turn: Turn) -> list[Event]:
    """The full SSE event sequence that streams ``message``."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**usage, "output_tokens": min(1, usage["output_tokens"])}
    events = [_event("message_start", message=start), _event("ping")]
    for index, block in enumerate(message["content"]):
        events += _block_events(index, block, turn)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    events.append(_event("message_delta", delta=delta, usage=usage))
    events.append(_event("message_stop"))
    return events


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def _error_response(status: int, message: str, error_type: str | None = None) -> JSONResponse:
    """An Anthropic-shaped error; 429 and 529 say ``retry-after: 0``."""
    headers = {"request-id": _new_id("req")}
    if status in _RETRY_NOW:
        headers["retry-after"] = "0"
    body = _error_body(error_type or error_type_for(status), message)
    return JSONResponse(body, status_code=status, headers=headers)


async def _stream(events: list[Event], turn: Turn) -> AsyncIterator[bytes]:
    """Send ``events`` with the turn's pacing and faults."""
    for sent, (name, data) in enumerate(events):
        if sent == turn.error_after:
            message = turn.error_message or "Overloaded"
            yield _sse("error", _error_body(turn.error_type or "overloaded_error", message))
            return
        if sent == turn.truncate_after:
            raise _TruncatedStream(f"stream truncated after {sent} events")
        if sent and turn.chunk_delay:
            await anyio.sleep(turn.chunk_delay)
        yield _sse(name, data)


def _parse_body(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _body_problem(body: dict[str, Any] | None) -> str | None:
    """What makes a request body invalid, or ``None`` when it is acceptable."""
    if body is None:
        return "request body must be a JSON object"
    if not isinstance(body.get("model"), str):
        return "model: field required (a string)"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: field required (an integer)"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: field required (a non-empty list)"
    if any(not isinstance(m, dict) or m.get("role") not in ("user", "assistant") for m in messages):
        return "messages: each message needs a role of 'user' or 'assistant'"
    return None


def _has_key(request: Request) -> bool:
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return bool(request.headers.get("x-api-key") or bearer)


class _CutStream(httpx2.AsyncByteStream):
    """A response body that ends the way a dropped connection does."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body
        raise httpx2.RemoteProtocolError(_CUT_MESSAGE)


class _InProcessTransport(httpx2.ASGITransport):
    """``ASGITransport`` that acts like a socket for the fake's faults.

    The request's read timeout bounds the whole response (``httpx2.ReadTimeout``), and a
    truncated stream delivers its events, then raises ``httpx2.RemoteProtocolError``.
    """

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app=self._cut_aware)
        self._inner = app

    async def _cut_aware(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._inner(scope, receive, send)
        except _TruncatedStream:
            _CUTS.get().append(True)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        cuts: list[bool] = []
        token = _CUTS.set(cuts)
        try:
            with anyio.fail_after(request.extensions.get("timeout", {}).get("read")):
                response = await super().handle_async_request(request)
        except TimeoutError as err:
            raise httpx2.ReadTimeout("fake-anthropic read timed out", request=request) from err
        finally:
            _CUTS.reset(token)
        if not cuts:
            return response
        body = _CutStream(await response.aread())
        return httpx2.Response(response.status_code, headers=response.headers, stream=body)


def _run(server: uvicorn.Server) -> None:
    """Run ``server``; uvicorn exits when it cannot bind, which ``start`` reports."""
    with suppress(SystemExit):
        server.run()


class FakeAnthropic:
    """A scripted Anthropic Messages API: one :class:`Turn` per ``POST /v1/messages``.

    Give a ``script`` (turns consumed in order; once exhausted every request gets a 500
    ``api_error`` saying so) or a ``handler`` that maps each :class:`RecordedRequest` to a
    turn. ``requests`` lists every ``/v1/messages`` request received, rejected ones too.
    """

    def __init__(self, script: Iterable[Turn] = (), *, handler: Handler | None = None) -> None:
        self.requests: list[RecordedRequest] = []
        self._script = list(script)
        self._handler = handler
        self._served = 0
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> FakeAnthropic:
        """A fake that plays the JSON script in ``path`` (format in the module docstring)."""
        return cls(load_script(path))

    @classmethod
    def echo(cls) -> FakeAnthropic:
        """A fake that answers every request with :func:`default_handler`."""
        return cls(handler=default_handler)

    def reset(self, script: Iterable[Turn] = (), *, handler: Handler | None = None) -> None:
        """Play a new script (or handler) from its start and forget recorded requests, so
        one running server can serve many tests."""
        with self._lock:
            self._script, self._handler, self._served = list(script), handler, 0
            self.requests.clear()

    @property
    def turns_left(self) -> int:
        """How many scripted turns are not consumed yet."""
        return max(0, len(self._script) - self._served)

    def next_turn(self, request: RecordedRequest) -> Turn:
        """The turn answering ``request``: the handler's, or the next scripted one."""
        if self._handler is not None:
            return self._handler(request)
        with self._lock:
            index = self._served
            self._served += 1
        if index < len(self._script):
            return self._script[index]
        message = (
            f"FakeAnthropic script exhausted: it has {len(self._script)} turn(s) and this is "
            f"request #{index + 1}. Add turns to the script."
        )
        return Turn.error(500, message)

    @cached_property
    def app(self) -> FastAPI:
        """The ASGI app (built on first use)."""
        app = FastAPI(title="FakeAnthropic", openapi_url=None, docs_url=None, redoc_url=None)
        app.add_api_route("/v1/messages", self._messages, methods=["POST"])
        app.add_api_route("/v1/models", self._models, methods=["GET"])
        return app

    async def _messages(self, request: Request) -> Response:
        body = _parse_body(await request.body())
        recorded = RecordedRequest(
            request.method, request.url.path, dict(request.headers), body or {}
        )
        self.requests.append(recorded)
        if not _has_key(request):
            return _error_response(401, "x-api-key or Authorization: Bearer header required")
        problem = _body_problem(body)
        if problem is not None:
            return _error_response(400, problem)
        try:
            turn = self.next_turn(recorded)
        except Exception as err:  # a broken handler: tell the test author, like an API bug
            turn = Turn.error(500, f"FakeAnthropic handler raised {err!r}")
        if turn.delay:
            await anyio.sleep(turn.delay)
        if turn.status is not None:
            message = turn.error_message or f"Fake error {turn.status}"
            return _error_response(turn.status, message, turn.error_type)
        message_json = _message(turn, recorded)
        headers = {"request-id": _new_id("req")}
        if not recorded.stream:
            return JSONResponse(message_json, headers=headers)
        events = _stream_events(message_json, turn)
        return StreamingResponse(
            _stream(events, turn), media_type="text/event-stream", headers=headers
        )

    async def _models(self) -> dict[str, Any]:
        model = {
            "type": "model",
            "id": FAKE_MODEL,
            "display_name": "Claude Fake",
            "created_at": "2025-01-01T00:00:00Z",
            "lifecycle": "active",
        }
        return {"data": [model], "has_more": False, "first_id": FAKE_MODEL, "last_id": FAKE_MODEL}

    def async_client(self, **kwargs: Any) -> httpx2.AsyncClient:
        """An in-process ``httpx2.AsyncClient`` for ``AsyncAnthropic(http_client=...)``."""
        transport = _InProcessTransport(self.app)
        return httpx2.AsyncClient(transport=transport, base_url="http://fake-anthropic", **kwargs)

    def start(self, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0) -> str:
        """Serve on a real socket from a background thread; return the base URL."""
        import uvicorn

        if self._server is not None:
            raise RuntimeError("FakeAnthropic is already serving at " + str(self.url))
        config = uvicorn.Config(
            self.app, host=host, port=port, log_config=None, log_level="warning",
            access_log=False, lifespan="off", ws="none", timeout_graceful_shutdown=1,
        )  # fmt: skip
        server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(_QUIET_FAULTS)
        thread = threading.Thread(target=_run, args=(server,), name="fake-anthropic", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"FakeAnthropic could not start on {host}:{port}")
            time.sleep(0.002)
        bound_port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._thread = server, thread
        self.url = f"http://{host}:{bound_port}"
        return self.url

    def stop(self) -> None:
        """Stop the background server, if any, and wait for its thread."""
        server, thread = self._server, self._thread
        self._server = self._thread = self.url = None
        if server is not None and thread is not None:
            server.should_exit = server.force_exit = True
            thread.join(timeout=10)

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """``with fake.serve() as url:`` serves on a real socket for the block."""
        url = self.start(host, port)
        try:
            yield url
        finally:
            self.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Serve a fake until interrupted (Ctrl-C or SIGTERM)."""
    parser = argparse.ArgumentParser(prog="python -m agno_nb.testing.fake_anthropic")
    parser.add_argument("--script", type=Path, help="JSON script file (default: echo handler)")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    fake = FakeAnthropic.from_file(args.script) if args.script else FakeAnthropic.echo()
    signal.signal(signal.SIGTERM, _interrupt)
    with fake.serve(args.host, args.port) as url:
        print(f"FakeAnthropic listening on {url}", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
