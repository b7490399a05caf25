"""MCPTools against an in-process MCPServer: tools, results, approvals, progress, lifecycle."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp_types import EmbeddedResource, ResourceLink, TextContent, TextResourceContents

from agno_nb import Agent, FunctionModel, Principal
from agno_nb.approvals import ToolCall
from agno_nb.events import RunEvent, ToolCallError, ToolCallProgress
from agno_nb.exceptions import ConfigError, MCPError
from agno_nb.mcp import MCPTools
from agno_nb.messages import Message, ToolCallPart
from agno_nb.models._anthropic_messages import _tool_result_content
from agno_nb.models.function import AgentInfo

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
NOTES: dict[str, str] = {}
server = MCPServer("notes", log_level="WARNING")


@server.tool()
def read_note(key: str) -> str:
    """Read a note."""
    return NOTES.get(key, "(no such note)")


@server.tool()
def write_note(key: str, text: str) -> str:
    """Write a note."""
    NOTES[key] = text
    return f"wrote {key}"


@server.tool()
def delete_note(key: str) -> str:
    """Delete a note."""
    NOTES.pop(key, None)
    return f"deleted {key}"


@server.tool()
def weather(city: str) -> dict[str, Any]:
    """The weather, as structured content."""
    return {"city": city, "celsius": 3}


@server.tool(structured_output=False)
def picture() -> list[Any]:
    """A caption and a tiny PNG."""
    return ["A red dot:", Image(data=PNG, format="png")]


@server.tool(structured_output=False)
def links() -> list[Any]:
    """A resource link and an embedded text resource."""
    link = ResourceLink(name="Report", uri="file:///r.pdf", mime_type="application/pdf")
    text = TextResourceContents(uri="notes://a", mime_type="text/plain", text="alpha")
    return [TextContent(text="Two resources:"), link, EmbeddedResource(resource=text)]


@server.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(reason)


@server.tool()
async def crunch(n: int, ctx: Context) -> str:
    """Report progress n times."""
    for i in range(1, n + 1):
        await ctx.report_progress(i, n, f"step {i}")
    return f"crunched {n}"


@server.tool()
async def nap(seconds: float) -> str:
    """Sleep."""
    await asyncio.sleep(seconds)
    return "rested"


def _text(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


def calls_then_answer(*calls: tuple[str, dict[str, Any]]) -> FunctionModel:
    """A model that makes ``calls`` in its first turn, then lists what came back."""

    def play(messages: list[Message], info: AgentInfo) -> list[ToolCallPart] | str:
        if len(messages) == 1:
            return [ToolCallPart(f"c{i}", name, args) for i, (name, args) in enumerate(calls)]
        return " | ".join(
            f"{p.name}:{'ERR' if p.is_error else 'OK'}"  # type: ignore[union-attr]
            for p in messages[-1].parts
        )

    return FunctionModel(play)


@pytest.fixture(scope="module")
def notes() -> MCPTools:
    return MCPTools(server=server)


async def test_tools_come_from_the_server_with_schema_description_and_identity(
    notes: MCPTools,
) -> None:
    tools = {t.name: t for t in await notes.get_tools()}
    assert {"read_note", "write_note", "picture", "crunch"} <= set(tools)
    write = tools["write_note"]
    assert write.definition.description == "Write a note."
    assert write.definition.input_schema["required"] == ["key", "text"]
    assert write.definition.input_schema["properties"]["text"]["type"] == "string"
    assert write.metadata == {
        "mcp.server": "notes",
        "mcp.transport": "in-process",
        "mcp.tool": "write_note",
    }
    assert write.reports_progress and write.approval is None
    assert await notes.get_tools() is await notes.get_tools()  # cached while unchanged


async def test_prefix_and_filters_and_an_unknown_include_is_a_clear_error() -> None:
    some = MCPTools(server=server, prefix="nb.", include_tools=["*_note"], exclude_tools=["del*"])
    assert [t.name for t in await some.get_tools()] == ["nb_read_note", "nb_write_note"]
    assert (await some.get_tools())[0].metadata["mcp.tool"] == "read_note"
    typo = MCPTools(server=server, include_tools=["read_notes"])
    with pytest.raises(ConfigError, match=r"no tool matching 'read_notes'.*offers: read_note"):
        await typo.get_tools()
    await asyncio.gather(some.close(), typo.close())


def test_configuration_errors_and_identity_without_secrets() -> None:
    with pytest.raises(ConfigError, match="exactly one of"):
        MCPTools()
    with pytest.raises(ConfigError, match="exactly one of"):
        MCPTools("x", url="http://a")
    with pytest.raises(ConfigError, match="http"):
        MCPTools(url="localhost:8000/mcp")
    docs = MCPTools(
        url="https://bot:pw@docs.example:8443/mcp?token=s3cret#x",
        headers={"X-Api-Key": "k"},
        auth="tok",
    )
    assert docs.name == "docs.example:8443"
    assert docs.metadata == {
        "mcp.server": "docs.example:8443",
        "mcp.transport": "streamable-http",
        "mcp.url": "https://docs.example:8443/mcp",
    }
    assert "s3cret" not in repr(docs) and "pw" not in repr(docs) and "tok" not in repr(docs)
    npx = MCPTools("npx -y @modelcontextprotocol/server-filesystem@2026.8.31 /tmp")
    assert (npx.command, npx.name) == ("npx", "server-filesystem")
    assert npx.args == ["-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "/tmp"]
    assert npx.metadata["mcp.command"] == "npx" and npx.transport == "stdio"


async def test_results_keep_text_structured_content_images_and_resource_links(
    notes: MCPTools,
) -> None:
    model = calls_then_answer(("weather", {"city": "Oslo"}), ("picture", {}), ("links", {}))
    agent = Agent("t", model=model, tools=[notes], db=None)
    run = await agent.arun("go")
    weather_result, picture_result, links_result = (t.result for t in run.tool_calls)
    assert weather_result["type"] == "mcp_result"
    assert weather_result["structured_content"] == {"city": "Oslo", "celsius": 3}
    assert json.loads(weather_result["content"][0]["text"]) == {"city": "Oslo", "celsius": 3}
    assert picture_result == {
        "type": "mcp_result",
        "content": [
            {"type": "text", "text": "A red dot:"},
            {
                "type": "image",
                "source": {
                    "type": "base64",
                    "media_type": "image/png",
                    "data": base64.b64encode(PNG).decode(),
                },
            },
        ],
        "structured_content": None,
    }
    assert links_result["content"][1:] == [
        {
            "type": "resource_link",
            "uri": "file:///r.pdf",
            "name": "Report",
            "mime_type": "application/pdf",
        },
        {"type": "resource", "uri": "notes://a", "mime_type": "text/plain", "text": "alpha"},
    ]
    stored = agent.store.get_run(run.run_id)  # type: ignore[union-attr]
    assert stored is not None and stored.tool_calls[1].result == picture_result


async def test_server_errors_become_tool_errors_and_the_run_goes_on(notes: MCPTools) -> None:
    model = calls_then_answer(("fail", {"reason": "disk full"}), ("no_such_tool", {}))
    agent = Agent("t", model=model, tools=[notes], db=False)
    events = [e async for e in agent.arun("go", stream=True)]
    run = events[-1].run  # type: ignore[union-attr]
    assert run.status == "completed" and run.content == "fail:ERR | no_such_tool:ERR"
    errors = [e.tool.error for e in events if isinstance(e, ToolCallError)]
    assert errors[0] == "Tool 'fail' raised MCPToolError: Error executing tool fail"
    assert errors[1].startswith("Unknown tool 'no_such_tool'. Available tools: crunch,")


def refuse_empty(call: ToolCall) -> str | None:
    return "required" if call.name.startswith("write") and call.args.get("text") else None


@pytest.mark.parametrize(
    ("toolset_policy", "agent_policy"),
    [
        (None, {"write_note": "required"}),  # the agent, by name
        (None, {"write_*": "required", "delete_*": "admin"}),  # the agent, by glob
        (refuse_empty, None),  # the toolset, by a callable
        ({"write_*": "required"}, None),  # the toolset, by glob
        ("required", {"read_*": "auto"}),  # the toolset's policy, relaxed by the agent
        (None, {"write_*": refuse_empty}),  # the agent, by glob to a callable
    ],
    ids=["agent-name", "agent-glob", "toolset-callable", "toolset-glob", "override", "agent-fn"],
)
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_approval_policies_gate_mcp_tools_like_python_tools(
    db_path: str, toolset_policy: Any, agent_policy: Any, decision: str
) -> None:
    NOTES.clear()
    notes = MCPTools(server=server, approval=toolset_policy)
    model = calls_then_answer(
        ("read_note", {"key": "a"}), ("write_note", {"key": "a", "text": "hi"})
    )
    agent = Agent("t", model=model, tools=[notes], db=db_path, approvals=agent_policy)
    run = agent.run("go")
    assert run.status == "paused" and [a.tool_name for a in run.approvals] == ["write_note"]
    assert run.tool_calls[0].status == "completed" and NOTES == {}
    approval = run.approvals[0]
    if decision == "approve":
        agent.desk.approve(approval, by=Principal("ana"))
    else:
        agent.desk.reject(approval, by=Principal("ana"), reason="not today")
    done = agent.continue_run(run.run_id)
    assert done.status == "completed"  # type: ignore[union-attr]
    if decision == "approve":
        assert NOTES == {"a": "hi"} and done.content == "read_note:OK | write_note:OK"  # type: ignore[union-attr]
    else:
        assert NOTES == {} and done.content == "read_note:OK | write_note:ERR"  # type: ignore[union-attr]


async def test_progress_notifications_become_tool_call_progress_events(notes: MCPTools) -> None:
    agent = Agent("t", model=calls_then_answer(("crunch", {"n": 3})), tools=[notes], db=False)
    events: list[RunEvent] = [e async for e in agent.arun("go", stream=True)]
    progress = [e for e in events if isinstance(e, ToolCallProgress)]
    assert [(p.progress, p.total, p.message) for p in progress] == [
        (1, 3, "step 1"),
        (2, 3, "step 2"),
        (3, 3, "step 3"),
    ]
    names = [type(e).__name__ for e in events]
    assert names.index("ToolCallStarted") < names.index("ToolCallProgress")
    assert names.index("ToolCallCompleted") > max(i for i, n in enumerate(names) if "Progress" in n)


async def test_one_session_serves_runs_on_every_loop_and_thread() -> None:
    notes = MCPTools(server=server)
    assert not notes.connected  # lazy: nothing happens before the first run
    agent = Agent(
        "t", model=calls_then_answer(("read_note", {"key": "a"})), tools=[notes], db=False
    )
    assert (await agent.arun("1")).content == "read_note:OK"
    connection, tools = notes._state.connection, agent.tools
    assert notes.connected and connection is not None
    assert (await agent.arun("2")).content == "read_note:OK"
    assert agent.run("3").content == "read_note:OK"  # sync run inside a running loop (portal)
    box: list[Any] = []

    def in_a_thread() -> None:  # a thread's private loop, closed when the thread ends
        box.append(agent.run("4"))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(30)
    assert box[0].content == "read_note:OK"
    assert notes._state.connection is connection and agent.tools == tools
    await notes.close()
    assert not notes.connected


async def test_async_with_closes_and_a_closed_toolset_reconnects_on_use() -> None:
    async with MCPTools(server=server) as notes:
        assert notes.connected
        first = notes._state.connection
    assert not notes.connected and first is not None and first.closed
    result = await notes.call("write_note", {"key": "b", "text": "x"})
    assert result["content"] == [{"type": "text", "text": "wrote b"}]
    assert notes.connected and notes._state.connection is not first
    await notes.close()


async def test_a_collected_toolset_closes_its_session() -> None:
    notes = MCPTools(server=server)
    await notes.connect()
    connection = notes._state.connection
    assert connection is not None and not connection.closed
    del notes
    await asyncio.sleep(0.05)  # let the cross-thread futures drop their references
    gc.collect()
    for _ in range(100):
        if connection.closed:
            break
        await asyncio.sleep(0.02)
    assert connection.closed


async def test_call_timeout_is_a_tool_error_naming_the_server() -> None:
    notes = MCPTools(server=server, call_timeout=0.2)
    agent = Agent("t", model=calls_then_answer(("nap", {"seconds": 5})), tools=[notes], db=False)
    run = await agent.arun("go")
    assert run.tool_calls[0].error == (
        "Tool 'nap' raised MCPError: MCP server 'notes' did not answer the call to 'nap' "
        "within 0.2 s (MCPTools(call_timeout=...))"
    )
    await notes.close()


async def test_a_server_that_cannot_start_fails_the_run_clearly() -> None:
    broken = MCPTools("/nonexistent/mcp-server", name="ghost")
    agent = Agent("t", model=calls_then_answer(), tools=[broken], db=False)
    with pytest.raises(MCPError, match=r"cannot connect to MCP server 'ghost' \(stdio: /nonex"):
        await agent.arun("go")


async def test_a_command_and_args_given_as_paths_start_the_server() -> None:
    """``Path`` objects (what a notebook gets from ``Path(...) / "bin"``) are accepted for
    the program and its arguments, and a bad type is a clear ConfigError, not an MCPError
    at the first run."""
    server_py = Path(__file__).with_name("mcp_test_server.py")
    crashy = MCPTools(Path(sys.executable), args=[server_py], name="crashy")
    assert (crashy.command, crashy.args) == (sys.executable, [str(server_py)])
    assert crashy.metadata["mcp.command"] == sys.executable
    try:
        assert "pid" in [t.name for t in await crashy.get_tools()]
    finally:
        await crashy.close()
    with pytest.raises(ConfigError, match=r"command= must be a str or an os.PathLike, not int"):
        MCPTools(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"args\[1\] must be a str or an os.PathLike"):
        MCPTools("x", args=["-v", 2])  # type: ignore[list-item]


def test_importing_agno_nb_and_creating_mcptools_does_not_import_mcp() -> None:
    code = (
        "import sys, agno_nb, agno_nb.mcp\n"
        "agno_nb.mcp.MCPTools('mcp-server-time')\n"
        "assert 'mcp' not in sys.modules and 'httpx2' not in sys.modules, 'imported'\n"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=root)


@pytest.mark.parametrize(
    ("blocks", "structured", "sent"),
    [
        ([{"type": "text", "text": "42"}], 42, "42"),  # the JSON text is the structured content
        ([], {"a": 1}, '{"a": 1}'),
        ([{"type": "text", "text": "hi"}], {"a": 1}, [_text("hi"), _text('{"a": 1}')]),
        ([{"type": "text", "text": ""}], None, ""),
        (
            [{"type": "resource", "uri": "notes://a", "mime_type": "text/plain", "text": "x"}],
            None,
            "Resource <notes://a>:\nx",
        ),
        (
            [{"type": "image", "source": {"type": "base64", "media_type": "image/svg+xml"}}],
            None,
            "[image (image/svg+xml) is not shown to the model]",
        ),
        (
            [{"type": "resource", "uri": "f://b", "mime_type": "application/zip", "blob": "UEs="}],
            None,
            "[resource <f://b> (application/zip) is not shown to the model]",
        ),
    ],
)
def test_mcp_results_reach_claude_as_text_or_content_blocks(
    blocks: list[dict[str, Any]], structured: Any, sent: Any
) -> None:
    result = {"type": "mcp_result", "content": blocks, "structured_content": structured}
    assert _tool_result_content(result) == sent
    edited = {"result": result, "note": "arguments edited by ana"}
    with_note = _tool_result_content(edited)
    assert isinstance(with_note, list | str) and "arguments edited by ana" in str(with_note)
    assert _tool_result_content({"plain": "dict"}) == '{"plain": "dict"}'
