"""MCPTools against real servers: mcp-server-time, server-everything (stdio and HTTP),
server-filesystem, and a Python server that dies on request. Claude is the real SDK
talking to FakeAnthropic on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agno_nb import Agent, Principal
from agno_nb.events import ToolCallProgress
from agno_nb.exceptions import MCPError
from agno_nb.mcp import MCPTools
from agno_nb.testing import FakeAnthropic, Turn
from tests import mcp_servers
from tests.claude_support import claude
from tests.test_tracing import oi

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CRASHY = [str(ROOT / "tests" / "mcp_test_server.py")]


def close(*toolsets: MCPTools) -> None:
    async def close_all() -> None:
        await asyncio.wait_for(asyncio.gather(*(t.close() for t in toolsets)), 20)

    asyncio.run(close_all())


@pytest.fixture(scope="session")
def npm_bin() -> Path:
    return mcp_servers.npm_servers()


@pytest.fixture(scope="session")
def clock() -> Iterator[MCPTools]:
    tools = MCPTools(str(mcp_servers.time_server()), args=["--local-timezone", "UTC"])
    yield tools
    close(tools)


@pytest.fixture(scope="session")
def everything(npm_bin: Path) -> Iterator[MCPTools]:
    tools = MCPTools(str(npm_bin / "mcp-server-everything"), name="everything")
    yield tools
    close(tools)


@pytest.fixture(scope="session")
def everything_http(npm_bin: Path) -> Iterator[tuple[MCPTools, int]]:
    process, url, port = mcp_servers.start_everything_http(npm_bin)
    tools = MCPTools(url=url, name="everything-http", include_tools=["echo", "trigger-long-*"])
    try:
        yield tools, port
        close(tools)
    finally:
        mcp_servers.stop(process)


@pytest.fixture(scope="session")
def files(
    npm_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[MCPTools, Path]]:
    root = tmp_path_factory.mktemp("fs-root").resolve()
    tools = MCPTools(str(npm_bin / "mcp-server-filesystem"), args=[str(root)], name="files")
    yield tools, root
    close(tools)


def test_claude_asks_mcp_server_time_over_stdio(fake: FakeAnthropic, clock: MCPTools) -> None:
    fake.reset(
        [
            Turn.tool_call("get_current_time", {"timezone": "Europe/Oslo"}),
            Turn.tool_call("get_current_time", {"timezone": "Mars/Olympus"}),
            Turn.text("It is evening in Oslo; Mars has no time zone."),
        ]
    )
    agent = Agent("clock", model=claude(fake), tools=[clock], db=None)
    events = list(agent.run("What time is it in Oslo, and on Mars?", stream=True))
    run = events[-1].run  # type: ignore[union-attr]
    assert run.status == "completed" and run.content.startswith("It is evening")
    oslo, mars = run.tool_calls
    assert oslo.result["structured_content"]["timezone"] == "Europe/Oslo"
    assert mars.status == "error" and "Invalid timezone" in (mars.error or "")
    assert mars.error.startswith("Tool 'get_current_time' raised MCPToolError: ")  # type: ignore[union-attr]
    assert [type(e).__name__ for e in events].count("ToolCallError") == 1
    first, second, third = fake.requests
    assert {t["name"] for t in first.tools} == {"get_current_time", "convert_time"}
    assert first.tools[0]["input_schema"]["required"] == ["timezone"]
    sent = second.messages[2]["content"][0]
    assert isinstance(sent["content"], str)  # one text block (its JSON = the structured content)
    assert json.loads(sent["content"])["timezone"] == "Europe/Oslo" and not sent["is_error"]
    error = third.messages[4]["content"][0]
    assert error["is_error"] and "Invalid timezone" in error["content"]
    stored = agent.store.get_run(run.run_id)  # type: ignore[union-attr]
    assert stored is not None and stored.tool_calls[1].error == mars.error
    span = oi(agent.store, run.trace_id or "")["execute_tool get_current_time"]
    assert span["tool.metadata.mcp.server"] == "mcp-server-time"
    assert span["tool.metadata.mcp.transport"] == "stdio"
    assert span["tool.metadata.mcp.command"].endswith("/bin/mcp-server-time")


def test_server_everything_over_stdio_images_links_structured_and_progress(
    fake: FakeAnthropic, everything: MCPTools
) -> None:
    fake.reset(
        [
            Turn.tool_calls(
                [
                    ("get-tiny-image", {}),
                    ("get-resource-links", {"count": 2}),
                    ("get-structured-content", {"location": "Chicago"}),
                    ("trigger-long-running-operation", {"duration": 0.3, "steps": 3}),
                ]
            ),
            Turn.text("Done."),
        ]
    )
    agent = Agent("everything", model=claude(fake), tools=[everything], db=False)
    events = list(agent.run("Show me everything", stream=True))
    run = events[-1].run  # type: ignore[union-attr]
    assert [t.status for t in run.tool_calls] == ["completed"] * 4
    image, links, weather, _ = (t.result for t in run.tool_calls)
    assert image["content"][1]["type"] == "image"
    assert image["content"][1]["source"]["media_type"] == "image/png"
    assert [b["type"] for b in links["content"]] == ["text", "resource_link", "resource_link"]
    assert weather["structured_content"]["conditions"] == "Light rain / drizzle"
    progress = [(e.progress, e.total) for e in events if isinstance(e, ToolCallProgress)]
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert {e.tool.name for e in events if isinstance(e, ToolCallProgress)} == {
        "trigger-long-running-operation"
    }
    results = fake.requests[1].messages[2]["content"]
    assert [b["type"] for b in results[0]["content"]][:2] == ["text", "image"]
    assert results[0]["content"][1]["source"]["data"] == image["content"][1]["source"]["data"]
    assert results[1]["content"][1]["text"].startswith("Resource link: ")
    assert results[3]["content"].startswith("Long running operation completed")


def test_server_everything_over_http_on_loopback_with_filters_and_progress(
    everything_http: tuple[MCPTools, int],
) -> None:
    tools, port = everything_http
    assert mcp_servers.listening_addresses(port) == {"127.0.0.1"}
    names = [t.name for t in asyncio.run(tools.get_tools())]
    assert names == ["echo", "trigger-long-running-operation"]
    assert tools.metadata["mcp.url"] == f"http://127.0.0.1:{port}/mcp"

    async def scenario() -> list[Any]:
        echoed = await tools.call("echo", {"message": "hi"})
        model = _calls("trigger-long-running-operation", args={"duration": 0.3, "steps": 3})
        agent = Agent("http", model=model, tools=[tools], db=False)
        events = [e async for e in agent.arun("go", stream=True)]
        return [echoed, events]

    echoed, events = asyncio.run(scenario())
    assert echoed["content"] == [{"type": "text", "text": "Echo: hi"}]
    assert [e.progress for e in events if isinstance(e, ToolCallProgress)] == [1, 2, 3]
    assert events[-1].run.content == "OK"


def test_a_write_to_server_filesystem_waits_for_approval(
    fake: FakeAnthropic, files: tuple[MCPTools, Path], db_path: str
) -> None:
    tools, root = files
    for decision in ("approve", "reject"):
        target = root / f"{decision}.txt"
        fake.reset(
            [
                Turn.tool_call("write_file", {"path": str(target), "content": "hello"}),
                Turn.text("All done."),
            ]
        )
        agent = Agent(
            "files",
            model=claude(fake),
            tools=[tools],
            db=db_path,
            approvals={"write_*": "required"},
        )
        run = agent.run(f"Write {target.name}")
        assert run.status == "paused" and run.approvals[0].tool_name == "write_file"
        assert not target.exists()
        if decision == "approve":
            agent.desk.approve(run.approvals[0], by=Principal("ana"))
        else:
            agent.desk.reject(run.approvals[0], by=Principal("ana"), reason="no writes today")
        done = agent.continue_run(run.run_id)
        assert done.status == "completed"  # type: ignore[union-attr]
        sent = fake.requests[-1].messages[2]["content"][0]
        if decision == "approve":
            assert target.read_text() == "hello" and not sent["is_error"]
        else:
            assert not target.exists() and sent["is_error"]
            assert "no writes today" in sent["content"]


def _calls(*names: str, args: dict[str, Any] | None = None) -> Any:
    from agno_nb import FunctionModel
    from agno_nb.messages import ToolCallPart

    def play(messages: list[Any], info: Any) -> Any:
        if len(messages) == 1:
            return [ToolCallPart(f"c{i}", n, args or {}) for i, n in enumerate(names)]
        return " | ".join("ERR" if p.is_error else "OK" for p in messages[-1].parts)

    return FunctionModel(play)


def test_a_stdio_server_that_dies_mid_call_is_a_tool_error_then_restarts(db_path: str) -> None:
    crashy = MCPTools(sys.executable, args=CRASHY, name="crashy")
    agent = Agent("c", model=_calls("pid", "die"), tools=[crashy], db=db_path)
    run = agent.run("go")
    assert run.status == "completed" and run.content == "OK | ERR"
    first_pid = run.tool_calls[0].result["content"][0]["text"]
    error = run.tool_calls[1].error or ""
    assert error.startswith(
        "Tool 'die' raised MCPError: MCP server 'crashy' (stdio: " + sys.executable
    )
    assert "closed the connection during the call to 'die'" in error
    assert "crashy: dying on request" in error  # the server's stderr
    stored = agent.store.get_run(run.run_id)  # type: ignore[union-attr]
    assert stored is not None and stored.tool_calls[1].error == error
    again = Agent("c", model=_calls("pid"), tools=[crashy], db=False).run("go")
    second_pid = again.tool_calls[0].result["content"][0]["text"]
    assert again.content == "OK" and second_pid != first_pid
    os.kill(int(second_pid), 9)  # dies between runs: the next run reconnects silently
    for _ in range(100):
        if not crashy.connected:  # the client has seen the pipe close
            break
        time.sleep(0.02)
    third = Agent("c", model=_calls("pid"), tools=[crashy], db=False).run("go")
    assert third.content == "OK" and third.tool_calls[0].result["content"][0]["text"] != second_pid
    close(crashy)


def test_an_http_server_that_dies_is_a_tool_error_and_a_restarted_one_is_used() -> None:
    port = mcp_servers.free_port()
    command = [sys.executable, *CRASHY, "http", str(port)]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    process = subprocess.Popen(command, **quiet)  # type: ignore[call-overload]
    mcp_servers.wait_for_port(port, process)
    url = f"http://127.0.0.1:{port}/mcp?key=secret"
    crashy = MCPTools(url=url, name="crashy-http", headers={"X-Team": "nb"}, auth="tok")
    try:
        run = Agent("c", model=_calls("die"), tools=[crashy], db=False).run("go")
        assert run.content == "ERR"
        assert "MCP server 'crashy-http' (streamable-http: http://127.0.0.1:" in (
            run.tool_calls[0].error or ""
        )
        assert "secret" not in (run.tool_calls[0].error or "")
        process.wait(10)
        process = subprocess.Popen(command, **quiet)  # type: ignore[call-overload]
        mcp_servers.wait_for_port(port, process)
        for name, expected in (("x-team", "nb"), ("authorization", "Bearer tok")):
            value = asyncio.run(crashy.call("header", {"name": name}))["content"][0]["text"]
            assert value == expected
    finally:
        try:
            close(crashy)
        finally:
            mcp_servers.stop(process)


def test_a_changed_tool_list_is_fetched_again() -> None:
    async def scenario(mode: str) -> tuple[list[str], list[str], list[str]]:
        tools = MCPTools(sys.executable, args=CRASHY, mode=mode)
        try:
            before = [t.name for t in await tools.get_tools()]
            await tools.call("grow")  # adds "fresh"; says so on 2025-era (legacy) sessions
            after = [t.name for t in await tools.get_tools()]
            return before, after, [t.name for t in await tools.refresh()]
        finally:
            await tools.close()

    before, after, refreshed = asyncio.run(scenario("legacy"))
    assert "fresh" not in before and "fresh" in after
    before, after, refreshed = asyncio.run(scenario("auto"))  # 2026-07-28: no notification
    assert "fresh" not in after and "fresh" in refreshed


def test_unreachable_servers_fail_the_run_with_a_clear_error(tmp_path: Path) -> None:
    port = mcp_servers.free_port()
    nowhere = MCPTools(url=f"http://127.0.0.1:{port}/mcp", name="nowhere", timeout=5)
    agent = Agent("c", model=_calls("x"), tools=[nowhere], db=str(tmp_path / "a.duckdb"))
    with pytest.raises(MCPError, match=r"cannot connect to MCP server 'nowhere'.*ConnectError"):
        agent.run("go")
    assert agent.store is not None
    [run] = agent.store.list_runs()  # the run is not lost: it is stored as failed
    assert run.status == "failed" and run.error_type == "MCPError"


def test_sessions_are_closed_when_the_process_exits(tmp_path: Path) -> None:
    script = tmp_path / "exits.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, atexit, sys
            sys.path.insert(0, {str(ROOT)!r})
            from agno_nb.mcp import MCPTools
            tools = MCPTools({sys.executable!r}, args={CRASHY!r})
            box = []
            atexit.register(lambda: print("closed:", box[0].closed, flush=True))  # runs last
            print("pid:", asyncio.run(tools.call("pid"))["content"][0]["text"], flush=True)
            box.append(tools._state.connection)
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert out[0] == "pid:" and out[2:] == ["closed:", "True"]
    with pytest.raises(ProcessLookupError):
        os.kill(int(out[1]), 0)
