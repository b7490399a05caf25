"""Tool timeouts: ``@tool(timeout=...)`` and ``Agent(tool_timeout=...)``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from mcp.server.mcpserver import MCPServer

from agno_nb import Agent, FunctionModel, RunContext, tool
from agno_nb.events import ToolCallError
from agno_nb.mcp import MCPTools
from agno_nb.messages import Message, ToolCallPart
from agno_nb.models.function import AgentInfo
from agno_nb.tools import Tool


def _call_then_answer(*calls: ToolCallPart) -> FunctionModel:
    def play(messages: list[Message], info: AgentInfo) -> list[ToolCallPart] | str:
        if len(messages) == 1:
            return list(calls)
        return " | ".join(
            f"{p.name}:{'ERR' if p.is_error else 'OK'}:{p.content}"  # type: ignore[union-attr]
            for p in messages[-1].parts
        )

    return FunctionModel(play)


async def test_a_hanging_async_tool_is_cancelled_and_the_model_gets_a_tool_error() -> None:
    cancelled = asyncio.Event()

    @tool(timeout=0.2)
    async def hang() -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    @tool
    async def quick() -> str:
        return "quick"

    model = _call_then_answer(ToolCallPart("c1", "hang", {}), ToolCallPart("c2", "quick", {}))
    agent = Agent("t", model=model, tools=[hang, quick], db=False)
    started = time.perf_counter()
    events = [e async for e in agent.arun("go", stream=True)]
    assert time.perf_counter() - started < 2
    run = events[-1].run  # type: ignore[union-attr]
    assert run.status == "completed"
    assert run.content == "hang:ERR:Tool 'hang' timed out after 0.2 s | quick:OK:quick"
    assert run.tool_calls[0].error_type == "ToolTimeoutError"
    assert cancelled.is_set()
    assert sum(isinstance(e, ToolCallError) for e in events) == 1


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let abandoned threads end


async def test_a_hanging_sync_tool_is_abandoned_and_the_run_goes_on(
    release: threading.Event,
) -> None:
    finished = threading.Event()

    @tool
    def stuck() -> str:
        release.wait(10)
        finished.set()
        return "late"

    agent = Agent("t", model=_call_then_answer(ToolCallPart("c1", "stuck", {})),
                  tools=[stuck], tool_timeout=0.2, db=False)  # fmt: skip
    started = time.perf_counter()
    run = await agent.arun("go")
    assert time.perf_counter() - started < 2
    assert run.status == "completed"
    assert run.tool_calls[0].error == "Tool 'stuck' timed out after 0.2 s"
    assert not finished.is_set()  # still running in its thread, its result unwanted
    release.set()
    assert await asyncio.to_thread(finished.wait, 5)
    assert run.tool_calls[0].status == "error"


@pytest.fixture
def one_thread() -> Iterator[None]:
    from agno_nb.tools import set_tool_threads, tool_threads

    before = tool_threads()
    set_tool_threads(1)
    yield
    set_tool_threads(before)


@pytest.mark.usefixtures("one_thread")
async def test_an_abandoned_sync_call_holds_its_thread_until_it_returns(
    release: threading.Event,
) -> None:
    ran: list[str] = []

    @tool(timeout=0.2)
    def stuck() -> str:
        release.wait(10)
        return "late"

    @tool(timeout=0.2)
    def quick() -> str:
        ran.append("quick")
        return "quick"

    model = _call_then_answer(ToolCallPart("c1", "stuck", {}), ToolCallPart("c2", "quick", {}))
    agent = Agent("t", model=model, tools=[stuck, quick], db=False)
    run = await agent.arun("go")
    assert [t.error for t in run.tool_calls] == [
        "Tool 'stuck' timed out after 0.2 s",
        "Tool 'quick' timed out after 0.2 s",  # waited for the one thread, never ran
    ]
    release.set()
    again = Agent("t", model=_call_then_answer(ToolCallPart("c1", "quick", {})),
                  tools=[quick], db=False)  # fmt: skip
    assert (await again.arun("go")).tool_calls[0].result == "quick"
    assert ran == ["quick"]


async def test_the_tools_own_timeout_wins_over_the_agents() -> None:
    @tool(timeout=5)
    async def patient() -> str:
        await asyncio.sleep(0.3)
        return "done"

    @tool
    async def impatient() -> str:
        await asyncio.sleep(3600)
        return "never"

    model = _call_then_answer(
        ToolCallPart("c1", "patient", {}), ToolCallPart("c2", "impatient", {})
    )
    agent = Agent("t", model=model, tools=[patient, impatient], tool_timeout=0.1, db=False)
    run = await agent.arun("go")
    assert [t.status for t in run.tool_calls] == ["completed", "error"]
    assert run.tool_calls[1].error == "Tool 'impatient' timed out after 0.1 s"
    assert patient.timeout == 5.0 and impatient.timeout is None
    assert agent.tool_timeout == 0.1
    assert Agent("t").tool_timeout is None  # the default: no limit


async def test_a_timeout_the_tool_raises_itself_is_not_the_runs_timeout() -> None:
    @tool(timeout=5)
    def connect() -> str:
        raise TimeoutError("the database did not answer")

    run = await Agent("t", model=_call_then_answer(ToolCallPart("c1", "connect", {})),
                      tools=[connect], db=False).arun("go")  # fmt: skip
    assert run.tool_calls[0].error == (
        "Tool 'connect' raised TimeoutError: the database did not answer"
    )


async def test_tools_that_report_progress_time_out_too(release: threading.Event) -> None:
    async def crawl(ctx: RunContext) -> str:
        ctx.report_progress(1, None, "started")
        await asyncio.sleep(3600)
        return "never"

    def grind(ctx: RunContext) -> str:
        ctx.report_progress(1, None, "started")
        release.wait(10)
        return "late"

    tools = [Tool(crawl, reports_progress=True, timeout=0.2),
             Tool(grind, reports_progress=True, timeout=0.2)]  # fmt: skip
    model = _call_then_answer(ToolCallPart("c1", "crawl", {}), ToolCallPart("c2", "grind", {}))
    run = await Agent("t", model=model, tools=tools, db=False).arun("go")
    assert [t.error for t in run.tool_calls] == [
        "Tool 'crawl' timed out after 0.2 s",
        "Tool 'grind' timed out after 0.2 s",
    ]


def test_a_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        tool(timeout=0)(lambda: None)
    with pytest.raises(ValueError, match="tool_timeout must be a positive number of seconds"):
        Agent("t", tool_timeout=-1)


sleepy = MCPServer("sleepy", log_level="WARNING")


@sleepy.tool()
async def nap(seconds: float) -> str:
    """Sleep."""
    await asyncio.sleep(seconds)
    return "rested"


async def test_mcp_tools_honour_the_agents_tool_timeout() -> None:
    toolset = MCPTools(server=sleepy, call_timeout=None)
    await toolset.call("nap", {"seconds": 0})  # connected, and the SDK's first-result imports done
    model = _call_then_answer(
        ToolCallPart("c1", "nap", {"seconds": 30}), ToolCallPart("c2", "nap", {"seconds": 0})
    )
    agent = Agent("t", model=model, tools=[toolset], tool_timeout=0.5, db=False)
    started = time.perf_counter()
    run = await agent.arun("go")
    assert time.perf_counter() - started < 10
    assert [t.error for t in run.tool_calls] == ["Tool 'nap' timed out after 0.5 s", None]
    assert run.tool_calls[1].status == "completed"
    await toolset.close()
