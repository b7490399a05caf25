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

This module is the server: the ASGI app (request checks, routes), its in-process transport
and the socket server. What it answers is encoded by ``_fake_wire`` (``Message`` JSON, SSE
events, error bodies); turns, recorded requests and script files are ``_fake_script``.

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
import signal
import threading
import time
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
    tool_ids_problem,
)
from agno_nb.testing._fake_wire import (
    FAKE_MODEL,
    TruncatedStream,
    error_body,
    message_json,
    new_id,
    sse_stream,
    stream_events,
)

if TYPE_CHECKING:
    import uvicorn

__all__ = ["FakeAnthropic", "RecordedRequest", "ToolCall", "Turn", "default_handler", "main"]

Handler = Callable[[RecordedRequest], Turn]
_RETRY_NOW = {429, 529}


class _QuietFaults(logging.Filter):
    """Keeps uvicorn from logging tracebacks for deliberate truncations and for requests
    still pending (say, a slow turn) when the server stops."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, TruncatedStream | asyncio.CancelledError)


_QUIET_FAULTS = _QuietFaults()
_CUTS: ContextVar[list[bool]] = ContextVar("fake_anthropic_cuts")
_CUT_MESSAGE = (
    "peer closed connection without sending complete message body (incomplete chunked read)"
)


def _error_response(status: int, message: str, error_type: str | None = None) -> JSONResponse:
    """An Anthropic-shaped error; 429 and 529 say ``retry-after: 0``."""
    headers = {"request-id": new_id("req")}
    if status in _RETRY_NOW:
        headers["retry-after"] = "0"
    body = error_body(error_type or error_type_for(status), message)
    return JSONResponse(body, status_code=status, headers=headers)


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
    return tool_ids_problem(messages)


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
        except TruncatedStream:
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
        answer = message_json(turn, recorded)
        headers = {"request-id": new_id("req")}
        if not recorded.stream:
            return JSONResponse(answer, headers=headers)
        events = stream_events(answer, turn)
        return StreamingResponse(
            sse_stream(events, turn), media_type="text/event-stream", headers=headers
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
