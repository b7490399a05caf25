"""A small MCP server that can die on request, for the lifecycle tests.

``python tests/mcp_test_server.py`` serves stdio; ``... http PORT`` streamable HTTP on
127.0.0.1. ``pid`` tells which process answers, so a test sees a reconnect.
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("crashy", log_level="WARNING")


@server.tool()
def pid() -> str:
    """The server's process id."""
    return str(os.getpid())


@server.tool()
async def die(after: float = 0.0) -> str:
    """Exit the server process in the middle of the call."""
    await asyncio.sleep(after)
    print("crashy: dying on request", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool()
async def sleep(seconds: float, ctx: Context) -> str:
    """Sleep, reporting progress every tenth of the time."""
    for step in range(10):
        await asyncio.sleep(seconds / 10)
        await ctx.report_progress(step + 1, 10)
    return "slept"


@server.tool()
def header(name: str, ctx: Context) -> str:
    """The value of a request header (HTTP only)."""
    return (ctx.headers or {}).get(name, "(none)")


@server.tool()
async def grow(ctx: Context) -> str:
    """Add a tool, and tell the client (legacy sessions) that the list changed."""
    server.add_tool(lambda: "new", name="fresh", description="Added by grow.")
    await ctx.session.send_tool_list_changed()
    return "grown"


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
