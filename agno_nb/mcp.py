"""``MCPTools``: the tools of an MCP server (stdio or streamable HTTP) as agent tools.

::

    clock = MCPTools("mcp-server-time")                                        # stdio
    docs = MCPTools(url="http://127.0.0.1:8000/mcp", include_tools=["search"])  # HTTP
    agent = Agent(..., tools=[clock, docs], approvals={"write_*": "required"})

It connects on first use (the first run, ``await tools.connect()`` or ``async with``) and
stays connected across cells and runs; a dropped connection is reopened once at the next
use; ``await tools.close()`` or process exit (a kernel shutting down) closes it. Results
are kept as ``{"type": "mcp_result", "content": [blocks], "structured_content": ...}``
(see docs/mcp.md). The ``mcp`` SDK is imported on connect only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import os
import re
import shlex
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agno_nb._mcp_runtime import (
    Connection,
    ServerParams,
    Transport,
    close_soon,
    default_name,
    error_text,
    on_mcp_loop,
    public_url,
    result_error_text,
    to_mcp_result,
)
from agno_nb.exceptions import ConfigError, MCPError, MCPToolError
from agno_nb.tools import RunContext, Tool

if TYPE_CHECKING:
    import httpx2
    from mcp.server.mcpserver import MCPServer

    from agno_nb.approvals import ApprovalSpec

__all__ = ["MCPTools"]

Progress = Callable[[float, "float | None", "str | None"], None]


class _State:
    """What outlives no ``MCPTools`` but must not point back at it (the finaliser and the
    session's message handler use it): the connection and the tool-list staleness."""

    connection: Connection | None = None
    stale: bool = False


class MCPTools:
    """The tools of one MCP server, resolved when a run starts (a ``Toolset``).

    Give exactly one of ``command`` (stdio: ``args``, ``env`` merged over a minimal
    environment, ``cwd``; the program and its arguments are strings or paths, any
    ``os.PathLike``), ``url`` (streamable HTTP: ``headers``, ``auth`` as a bearer
    token or an ``httpx2.Auth``) or ``server`` (an in-process ``MCPServer``).

    ``name`` identifies the server in traces and errors; ``prefix`` is put before each
    tool name; ``include_tools`` / ``exclude_tools`` filter by name or glob; ``approval``
    is a policy for every tool, or a mapping from name or glob to policy (agent-level
    ``approvals=`` still override it). ``timeout`` bounds connecting and listing,
    ``call_timeout`` each call (None: no limit).
    """

    def __init__(
        self,
        command: str | os.PathLike[str] | None = None,
        *,
        args: Sequence[str | os.PathLike[str]] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth: str | httpx2.Auth | None = None,
        server: MCPServer | None = None,
        name: str | None = None,
        prefix: str = "",
        include_tools: Sequence[str] | None = None,
        exclude_tools: Sequence[str] = (),
        approval: ApprovalSpec | Mapping[str, ApprovalSpec] = None,
        timeout: float = 30.0,
        call_timeout: float | None = 300.0,
        mode: str = "auto",
    ) -> None:
        if sum(x is not None for x in (command, url, server)) != 1:
            raise ConfigError("MCPTools needs exactly one of command=, url= or server=")
        program = None if command is None else _as_str(command, "command=")
        argv = [_as_str(a, f"args[{i}]") for i, a in enumerate(args)]
        if program is not None and not argv and " " in program.strip():
            program, *argv = shlex.split(program)
        if url is not None and not url.startswith(("http://", "https://")):
            raise ConfigError(f"MCPTools(url=...) must be an http(s) URL, not {url!r}")
        self.command, self.args = program, argv
        self.env, self.cwd = dict(env) if env else None, cwd
        self.url, self.headers, self.auth, self.server = url, dict(headers or {}), auth, server
        self.transport: Transport = (
            "stdio" if program else "streamable-http" if url else "in-process"
        )
        self.name = name or default_name(program, self.args, url, server)
        self.prefix, self.include_tools = prefix, include_tools
        self.exclude_tools, self.approval = list(exclude_tools), approval
        self.timeout, self.call_timeout, self.mode = timeout, call_timeout, mode
        self._state = _State()
        self._tools: list[Tool] | None = None
        self._listing: list[Any] = []
        self._listed_on: Connection | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        weakref.finalize(self, lambda state: close_soon(state.connection), self._state)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"MCPTools({self.name!r}, {self.transport}: {self._where()}, {state})"

    # -- public API ----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        connection = self._state.connection
        return connection is not None and connection.alive

    @property
    def metadata(self) -> dict[str, str]:
        """The server's identity as tool spans carry it (no headers, no secrets)."""
        meta = {"mcp.server": self.name, "mcp.transport": self.transport}
        if self.command:
            meta["mcp.command"] = self.command
        if self.url:
            meta["mcp.url"] = public_url(self.url)
        return meta

    async def connect(self) -> MCPTools:
        """Connect now (otherwise the first run does) and list the tools."""
        await self.get_tools()
        return self

    async def get_tools(self) -> list[Tool]:
        """The server's tools as agent tools (connecting or reconnecting if needed). The
        same ``Tool`` objects come back while the server's list does not change."""
        return await on_mcp_loop(self._get_tools(refresh=False))

    async def refresh(self) -> list[Tool]:
        """List the server's tools again."""
        return await on_mcp_loop(self._get_tools(refresh=True))

    async def call(self, tool_name: str, arguments: dict[str, Any] | None = None) -> Any:
        """Call a tool by its MCP name, outside any run; returns the ``mcp_result`` dict."""
        return await on_mcp_loop(self._call(tool_name, arguments or {}, None))

    async def close(self) -> None:
        """Close the session (a stdio server is stopped); the next use reconnects."""
        await on_mcp_loop(self._close())

    async def __aenter__(self) -> MCPTools:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def server_log(self, lines: int = 20) -> str:
        """The last lines a stdio server wrote to stderr (kept in a temporary file)."""
        connection = self._state.connection
        return connection.stderr_tail(lines) if connection is not None else ""

    # -- on the MCP loop -----------------------------------------------------------------

    def _guard(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # a new MCP loop after a fork
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _connection(self) -> Connection:
        connection = self._state.connection
        if connection is not None and connection.alive:
            return connection
        if connection is not None:
            await connection.close()  # reap what is left of the old session
            self._state.connection = None
        connection = Connection(self.name, self._params(), self._client_options())
        try:
            await connection.open(self.timeout)
        except TimeoutError:
            raise MCPError(
                f"MCP server {self.name!r} ({self.transport}: {self._where()}) did not finish "
                f"connecting within {self.timeout:g} s{_tail(connection)}"
            ) from None
        except Exception as exc:
            raise MCPError(
                f"cannot connect to MCP server {self.name!r} ({self.transport}: "
                f"{self._where()}): {error_text(exc)}{_tail(connection)}"
            ) from exc
        self._state.connection = connection
        return connection

    def _client_options(self) -> dict[str, Any]:
        state = self._state

        async def on_message(message: Any) -> None:
            if getattr(message, "method", None) == "notifications/tools/list_changed":
                state.stale = True

        return {
            "mode": self.mode,
            "read_timeout_seconds": None,  # connecting and listing have self.timeout
            "message_handler": on_message,
        }

    async def _get_tools(self, refresh: bool) -> list[Tool]:
        async with self._guard():
            connection = await self._connection()
            state = self._state
            if refresh or state.stale or self._tools is None or connection is not self._listed_on:
                state.stale = False
                await self._list(connection)
                self._listed_on = connection
            assert self._tools is not None
            return self._tools

    async def _list(self, connection: Connection) -> None:
        assert connection.client is not None
        listing, cursor = [], None
        while True:
            page = await asyncio.wait_for(
                connection.client.list_tools(cursor=cursor, cache_mode="refresh"), self.timeout
            )
            listing.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        offered = [t.name for t in listing]
        for wanted in self.include_tools or ():
            if not any(fnmatch.fnmatchcase(n, wanted) for n in offered):
                raise ConfigError(
                    f"MCP server {self.name!r} has no tool matching {wanted!r} "
                    f"(include_tools); it offers: {', '.join(offered) or 'none'}"
                )
        chosen = [t for t in listing if self._wanted(t.name)]
        key = [(t.name, t.description, json.dumps(t.input_schema, sort_keys=True)) for t in chosen]
        if self._tools is None or key != self._listing:
            self._tools = [self._tool(t) for t in chosen]
            self._listing = key

    def _wanted(self, tool_name: str) -> bool:
        if self.include_tools is not None and not any(
            fnmatch.fnmatchcase(tool_name, p) for p in self.include_tools
        ):
            return False
        return not any(fnmatch.fnmatchcase(tool_name, p) for p in self.exclude_tools)

    def _tool(self, spec: Any) -> Tool:
        mcp_name: str = spec.name
        exposed = re.sub(r"[^a-zA-Z0-9_-]", "_", self.prefix + mcp_name)[:64]

        async def call_mcp_tool(ctx: RunContext, /, **arguments: Any) -> Any:
            caller = asyncio.get_running_loop()

            def progress(done: float, total: float | None, message: str | None) -> None:
                with contextlib.suppress(RuntimeError):  # the caller's loop has gone
                    caller.call_soon_threadsafe(ctx.report_progress, done, total, message)

            return await on_mcp_loop(self._call(mcp_name, arguments, progress))

        return Tool(
            call_mcp_tool,
            name=exposed,
            description=spec.description or spec.title or mcp_name,
            approval=self._approval_for(mcp_name, exposed),
            input_schema=dict(spec.input_schema),
            metadata={**self.metadata, "mcp.tool": mcp_name},
            reports_progress=True,
        )

    def _approval_for(self, mcp_name: str, exposed: str) -> ApprovalSpec:
        policy = self.approval
        if not isinstance(policy, Mapping):
            return policy
        for key in (exposed, mcp_name):
            if key in policy:
                return policy[key]
        for pattern, value in policy.items():
            if fnmatch.fnmatchcase(exposed, pattern) or fnmatch.fnmatchcase(mcp_name, pattern):
                return value
        return None

    async def _call(
        self, tool_name: str, arguments: dict[str, Any], report: Progress | None
    ) -> Any:
        from mcp.shared.exceptions import MCPError as SDKError
        from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        async with self._guard():
            connection = await self._connection()
        assert connection.client is not None

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            if report is not None:
                report(progress, total, message)

        try:
            result = await connection.client.call_tool(
                tool_name,
                arguments,
                read_timeout_seconds=self.call_timeout,
                progress_callback=on_progress,
            )
        except SDKError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise MCPError(
                    f"MCP server {self.name!r} did not answer the call to {tool_name!r} "
                    f"within {self.call_timeout:g} s (MCPTools(call_timeout=...))"
                ) from None
            if exc.code != CONNECTION_CLOSED and connection.alive:
                raise MCPToolError(f"MCP server {self.name!r}: {exc.message}") from None
            raise await self._dropped(connection, tool_name, exc) from exc
        except Exception as exc:
            if connection.alive:
                raise MCPError(
                    f"MCP server {self.name!r} gave no usable answer to {tool_name!r}: "
                    f"{error_text(exc)}"
                ) from exc
            raise await self._dropped(connection, tool_name, exc) from exc
        if result.is_error:
            raise MCPToolError(result_error_text(result))
        return to_mcp_result(result)

    async def _dropped(
        self, connection: Connection, tool_name: str, exc: BaseException
    ) -> MCPError:
        await connection.close()
        reason = connection.error
        if reason is None or isinstance(reason, asyncio.CancelledError):
            reason = exc
        if self._state.connection is connection:
            self._state.connection = None
        return MCPError(
            f"MCP server {self.name!r} ({self.transport}: {self._where()}) closed the "
            f"connection during the call to {tool_name!r} ({error_text(reason)}); it is "
            f"reconnected at the next call{_tail(connection)}"
        )

    async def _close(self) -> None:
        connection, self._state.connection = self._state.connection, None
        if connection is not None:
            await connection.close()

    def _params(self) -> ServerParams:
        """The settings a connection needs (not this object: a collected ``MCPTools``
        must be able to close its session)."""
        return ServerParams(
            command=self.command,
            args=tuple(self.args),
            env=self.env,
            cwd=None if self.cwd is None else str(self.cwd),
            url=self.url,
            headers=dict(self.headers),
            auth=self.auth,
            server=self.server,
            timeout=self.timeout,
            read_timeout=None if self.call_timeout is None else max(self.call_timeout, 300.0),
        )

    def _where(self) -> str:
        """The server for messages: the program (its arguments may hold secrets), the URL
        without credentials or query, or the in-process server's name."""
        if self.command:
            return self.command
        if self.url:
            return public_url(self.url)
        return getattr(self.server, "name", None) or "server object"


def _as_str(value: object, what: str) -> str:
    """A program or argument as the string the SDK takes: ``Path`` objects (any
    ``os.PathLike``) are accepted."""
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str):
            return path
    raise ConfigError(
        f"MCPTools: {what} must be a str or an os.PathLike, not {type(value).__name__}"
    )


def _tail(connection: Connection) -> str:
    tail = connection.stderr_tail(5)
    return f"\nserver stderr (last lines):\n{tail}" if tail else ""
