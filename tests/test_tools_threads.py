"""Sync tools run in a bounded pool of worker threads: the event loop stays free."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Iterator

import pytest

from agno_nb import Agent, FunctionModel, RunContext, tool
from agno_nb.events import ToolCallProgress
from agno_nb.messages import Message, ToolCallPart
from agno_nb.models.function import AgentInfo
from agno_nb.tools import Tool

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def _call_then_answer(*calls: ToolCallPart) -> FunctionModel:
    def play(messages: list[Message], info: AgentInfo) -> list[ToolCallPart] | str:
        if len(messages) == 1:
            return list(calls)
        return "done"

    return FunctionModel(play)


async def _max_lag_while(work: asyncio.Future[object] | asyncio.Task[object]) -> float:
    """The longest delay of a 10 ms ticker on this loop while ``work`` runs."""
    worst = 0.0
    while not work.done():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - before - 0.01)
    return worst


async def test_the_event_loop_stays_responsive_while_a_sync_tool_blocks() -> None:
    @tool
    def slow_report(days: int) -> str:
        """A blocking tool (a slow database, a sync HTTP client)."""
        time.sleep(0.5)
        return f"report for {days} days"

    agent = Agent("t", model=_call_then_answer(ToolCallPart("c1", "slow_report", {"days": 3})),
                  tools=[slow_report], db=False)  # fmt: skip
    work = asyncio.ensure_future(agent.arun("go"))
    lag = await _max_lag_while(work)
    run = await work
    assert run.tool_calls[0].result == "report for 3 days"
    assert run.tool_calls[0].duration_ms is not None and run.tool_calls[0].duration_ms >= 500
    assert lag < 0.15, f"the loop was blocked for {lag:.3f} s"


async def test_sync_tools_run_in_a_worker_thread_with_the_callers_context() -> None:
    seen: list[tuple[str, str]] = []

    @tool
    def where(ctx: RunContext) -> str:
        seen.append((threading.current_thread().name, request_id.get()))
        return ctx.run_id

    agent = Agent("t", model=_call_then_answer(ToolCallPart("c1", "where", {})),
                  tools=[where], db=False)  # fmt: skip
    request_id.set("req-7")
    run = await agent.arun("go")
    assert run.tool_calls[0].result == run.run_id
    thread_name, seen_id = seen[0]
    assert thread_name.startswith("agno-nb-tool") and seen_id == "req-7"


async def test_sync_tools_report_progress_from_their_thread() -> None:
    def crunch(ctx: RunContext, n: int) -> str:
        for i in range(1, n + 1):
            time.sleep(0.01)
            ctx.report_progress(i, n, f"step {i}")
        return "crunched"

    agent = Agent("t", model=_call_then_answer(ToolCallPart("c1", "crunch", {"n": 3})),
                  tools=[Tool(crunch, reports_progress=True)], db=False)  # fmt: skip
    events = [e async for e in agent.arun("go", stream=True)]
    progress = [(e.progress, e.message) for e in events if isinstance(e, ToolCallProgress)]
    assert progress == [(1, "step 1"), (2, "step 2"), (3, "step 3")]
    names = [type(e).__name__ for e in events]
    assert names.index("ToolCallProgress") < names.index("ToolCallCompleted")


@pytest.fixture
def two_threads() -> Iterator[None]:
    from agno_nb.tools import set_tool_threads, tool_threads

    before = tool_threads()
    set_tool_threads(2)
    yield
    set_tool_threads(before)


@pytest.mark.usefixtures("two_threads")
async def test_no_more_sync_tools_run_at_once_than_the_thread_bound() -> None:
    lock = threading.Lock()
    running = [0]
    most = [0]

    @tool
    def busy(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        return n

    agent = Agent("t", model=_call_then_answer(ToolCallPart("c1", "busy", {"n": 1})),
                  tools=[busy], db=False)  # fmt: skip
    started = time.perf_counter()
    runs = await asyncio.gather(*(agent.arun("go") for _ in range(6)))
    elapsed = time.perf_counter() - started
    assert [r.tool_calls[0].result for r in runs] == [1] * 6
    assert most[0] == 2
    assert elapsed >= 0.3  # three waves of two


def test_the_thread_bound_is_validated_and_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agno_nb import _tool_threads

    with pytest.raises(ValueError, match="at least 1"):
        _tool_threads.set_tool_threads(0)
    monkeypatch.setenv("AGNO_NB_TOOL_THREADS", "5")
    assert _tool_threads.default_tool_threads() == 5
    monkeypatch.setenv("AGNO_NB_TOOL_THREADS", "many")
    with pytest.raises(ValueError, match="AGNO_NB_TOOL_THREADS"):
        _tool_threads.default_tool_threads()
    monkeypatch.delenv("AGNO_NB_TOOL_THREADS")
    assert _tool_threads.default_tool_threads() == 32
