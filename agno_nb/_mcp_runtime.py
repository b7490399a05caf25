"""The machinery under ``MCPTools``: one loop thread that owns every MCP session.

An MCP session (its anyio task group, the stdio pipes, the HTTP streams) is bound to the
event loop and the task that opened it. Runs happen on many loops: a thread's private
loop (``agent.run()`` in a script), the portal loop (``agent.run()`` in a notebook cell),
the kernel's loop (``await agent.arun()``), a new loop per test. So every session lives
on one long-lived daemon thread, ``agno-nb-mcp``: a connection is a task there that
enters ``mcp.Client`` and waits to be told to close; calls hop onto that loop with
``run_coroutine_threadsafe`` and back with ``wrap_future``. Sessions outlive
cells and runs; ``atexit`` closes them when the process (a kernel) ends.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import os
import tempfile
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from mcp import Client

T = TypeVar("T")
Transport = Literal["stdio", "streamable-http", "in-process"]

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_open: set[Connection] = set()  # touched on the MCP loop only


def mcp_loop() -> asyncio.AbstractEventLoop:
    """The loop that owns the MCP sessions (started on first use; new after a fork)."""
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid():
            if _loop is None:
                atexit.register(_close_all_at_exit)
            _open.clear()  # a forked child does not own its parent's sessions
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="agno-nb-mcp", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


async def on_mcp_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the MCP loop from any loop (cancelling the caller cancels it)."""
    loop = mcp_loop()
    if asyncio.get_running_loop() is loop:
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


def run_on_mcp_loop(coro: Coroutine[Any, Any, T], timeout: float) -> T:
    """Run ``coro`` on the MCP loop from synchronous code and wait for it."""
    return asyncio.run_coroutine_threadsafe(coro, mcp_loop()).result(timeout)


def _close_all_at_exit() -> None:
    loop = _loop
    if loop is None or _loop_pid != os.getpid() or not _open:
        return

    async def close_all() -> None:
        await asyncio.gather(*(c.close() for c in list(_open)), return_exceptions=True)

    with contextlib.suppress(Exception):
        run_on_mcp_loop(close_all(), timeout=10)


_warmed = False


def _warm_up() -> None:
    """Import what the SDK imports on the first result with an output schema: jsonschema
    takes 0.3-3 s (1.4 s of it building a grammar when ``rfc3987-syntax`` is installed,
    as jupyterlab's dependencies do)."""
    global _warmed
    _warmed = True
    with contextlib.suppress(Exception):
        importlib.import_module("jsonschema")


def close_soon(connection: Connection | None) -> None:
    """Close ``connection`` in the background (a collected ``MCPTools``); never raises."""
    loop = _loop
    if connection is None or loop is None or _loop_pid != os.getpid() or loop.is_closed():
        return
    with contextlib.suppress(RuntimeError):
        asyncio.run_coroutine_threadsafe(connection.close(), loop)


@dataclass(frozen=True, kw_only=True)
class ServerParams:
    """Where the server is and how to reach it: one of command, url or server."""

    command: str | None
    args: tuple[str, ...]
    env: dict[str, str] | None
    cwd: str | None
    url: str | None
    headers: dict[str, str]
    auth: Any  # a bearer token or an httpx2.Auth
    server: Any  # an in-process MCPServer
    timeout: float
    read_timeout: float | None  # HTTP: the longest wait for the next bytes

    async def target(self, stderr: TextIO | None, stack: contextlib.AsyncExitStack) -> Any:
        """What ``mcp.Client`` is given: a transport, or the in-process server."""
        if self.server is not None:
            return self.server
        if self.url is not None:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            headers, auth = dict(self.headers), self.auth
            if isinstance(auth, str):
                headers["Authorization"], auth = f"Bearer {auth}", None
            timeout = httpx2.Timeout(self.timeout, read=self.read_timeout)
            http = httpx2.AsyncClient(headers=headers, auth=auth, timeout=timeout)
            await stack.enter_async_context(http)
            return streamable_http_client(self.url, http_client=http)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        assert self.command is not None and stderr is not None
        params = StdioServerParameters(
            command=self.command, args=list(self.args), env=self.env, cwd=self.cwd
        )
        return stdio_client(params, errlog=stderr)


@dataclass(eq=False)
class Connection:
    """One open MCP session, as a task on the MCP loop; all methods run on that loop."""

    label: str
    params: ServerParams
    client_options: dict[str, Any]
    client: Client | None = None
    error: BaseException | None = None
    closed: bool = False
    stderr: TextIO | None = None
    _last_stderr: str = ""
    pid: int = field(default_factory=os.getpid)  # a forked child does not own the session
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def open(self, timeout: float) -> None:
        """Start the session; raises what stopped it (or TimeoutError)."""
        if self.params.command is not None:
            log = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            self.stderr = cast(TextIO, log)  # closed by close()
        loop = asyncio.get_running_loop()
        if not _warmed:
            loop.run_in_executor(None, _warm_up)  # while the server starts
        ready: asyncio.Future[None] = loop.create_future()
        self._task = asyncio.ensure_future(self._main(ready))

        def ended(_: object) -> None:
            if not ready.done():
                ready.set_exception(ConnectionError("the session closed while opening"))

        self._task.add_done_callback(ended)
        try:
            await asyncio.wait_for(asyncio.shield(ready), timeout)
        except BaseException:
            await self.close()
            raise
        _open.add(self)

    async def _main(self, ready: asyncio.Future[None]) -> None:
        from mcp import Client

        try:
            async with contextlib.AsyncExitStack() as stack:
                target = await self.params.target(self.stderr, stack)
                client = Client(target, **self.client_options)
                self.client = await stack.enter_async_context(client)
                ready.set_result(None)
                await self._closing.wait()
        except BaseException as exc:  # the session ended: a dead server, a cancel, a close
            self.error = exc
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else ConnectionError(exc))
        finally:
            self.closed = True
            self.client = None
            _open.discard(self)

    @property
    def alive(self) -> bool:
        """Whether the session can still take a request (a dead stdio server closes its
        pipe, which the SDK's dispatcher notes; an HTTP drop shows at the next request)."""
        if self.closed or self.client is None or self.pid != os.getpid():
            return False
        session = getattr(self.client, "_session", None)
        dispatcher = getattr(session, "_dispatcher", None)
        return not getattr(dispatcher, "_closed", False)

    async def close(self, timeout: float = 10.0) -> None:
        """End the session (stopping a stdio server); a connect in progress is cancelled."""
        if self.pid != os.getpid():
            return
        self._closing.set()
        task = self._task
        if task is not None and not task.done():
            if self.client is None:
                task.cancel()
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                task.cancel()
        _open.discard(self)
        if self.stderr is not None and not self.stderr.closed:
            self._last_stderr = self.stderr_tail(50)
            self.stderr.close()

    def stderr_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote to stderr (stdio servers only)."""
        if self.stderr is None or self.stderr.closed:
            return "\n".join(self._last_stderr.splitlines()[-lines:])
        fd = self.stderr.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - 16384)
        # pread leaves the offset the server writes at untouched
        text = os.pread(fd, size - start, start).decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])


def error_text(exc: BaseException) -> str:
    """The message of the first leaf of an exception (group)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"


def leaf_errors(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaf_errors(sub)]
    return [exc]


def to_mcp_result(result: Any) -> dict[str, Any]:
    """A ``CallToolResult`` as the JSON kept in the run (see docs/mcp.md)."""
    return {
        "type": "mcp_result",
        "content": [_block(item) for item in result.content],
        "structured_content": result.structured_content,
    }


def _block(item: Any) -> dict[str, Any]:
    kind = getattr(item, "type", None)
    if kind == "text":
        return {"type": "text", "text": item.text}
    if kind in ("image", "audio"):
        source = {"type": "base64", "media_type": item.mime_type, "data": item.data}
        return {"type": kind, "source": source}
    if kind == "resource_link":
        link = {"type": "resource_link", "uri": str(item.uri), "name": item.name}
        link["mime_type"] = item.mime_type
        if item.description:
            link["description"] = item.description
        return link
    if kind == "resource":
        res = item.resource
        block = {"type": "resource", "uri": str(res.uri), "mime_type": res.mime_type}
        if getattr(res, "text", None) is not None:
            block["text"] = res.text
        else:
            block["blob"] = getattr(res, "blob", "")
        return block
    dump = item.model_dump(mode="json") if hasattr(item, "model_dump") else item
    return {"type": "text", "text": f"[{kind} content] {dump}"}


def result_error_text(result: Any) -> str:
    """The text of an ``is_error`` result."""
    texts = [getattr(c, "text", "") for c in result.content if getattr(c, "type", "") == "text"]
    return "\n".join(t for t in texts if t) or "the tool reported an error (no text)"


_LAUNCHERS = {"npx", "uvx", "uv", "node", "python", "python3", "pipx", "bunx", "deno", "docker"}


def default_name(command: str | None, args: list[str], url: str | None, server: Any) -> str:
    """A server's name from how it is started: the package a launcher runs, the program,
    the host of the URL, or the in-process server's name."""
    if command:
        base = Path(command).name
        if base in _LAUNCHERS:
            target = next((a for a in args if not a.startswith("-")), base)
            base = target.rstrip("/").rsplit("/", 1)[-1].split("@")[0] or base
        return base.removesuffix(".py").removesuffix(".js")
    if url:
        return urlsplit(url).netloc.rsplit("@", 1)[-1]
    return getattr(server, "name", None) or "mcp"


def public_url(url: str) -> str:
    """The URL without credentials, query or fragment (they may carry secrets)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
