"""One tool call, as the run loop makes it: events, timeout, result made JSON.

``execute_tool`` runs a call the policy let through (at once, or after its approval) and
never fails the run: unknown tools, bad arguments, exceptions, results that cannot be JSON
and timeouts all go back to the model as tool errors (``ToolCallError``).

A call may take ``@tool(timeout=...)`` seconds, else ``Agent(tool_timeout=...)`` (default
None: no limit), counted from the call (a sync call's wait for a free tool thread
included). An async tool that runs over is cancelled (and may clean up). A sync tool
cannot be stopped: its thread is abandoned and runs on until the function returns, its
result dropped, holding its place in the thread bound until then (see
``agno_nb._tool_threads``); a warning is logged. MCP tools go the same way: the agent's
``tool_timeout`` bounds them too, on top of ``MCPTools(call_timeout=...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from agno_nb import events as ev
from agno_nb._tool_json import json_result
from agno_nb.run import RunOutput, ToolExecution, utcnow
from agno_nb.tools import RunContext, ToolArgumentsError, ToolResultError, ToolTimeoutError

if TYPE_CHECKING:
    from agno_nb._runspec import RunSpec
    from agno_nb.tools import Tool

__all__ = ["call_tool", "execute_tool"]

logger = logging.getLogger("agno_nb.tools")


async def execute_tool(
    spec: RunSpec,
    run: RunOutput,
    execution: ToolExecution,
    args: dict[str, Any],
    ids: dict[str, str],
    note: str | None = None,
) -> AsyncIterator[ev.RunEvent]:
    """Run one tool call; errors become tool errors for the model, never run failures."""
    yield ev.ToolCallStarted(**ids, tool=execution)
    execution.started_at = utcnow()
    start = time.perf_counter()
    tool = spec.tools_by_name.get(execution.name)
    try:
        if tool is None:
            known = ", ".join(sorted(spec.tools_by_name)) or "none"
            raise ToolArgumentsError(f"Unknown tool {execution.name!r}. Available tools: {known}.")
        ctx = RunContext(run.run_id, run.session_id, run.user_id, spec.agent_id, spec.agent_name)
        timeout = tool.timeout if tool.timeout is not None else spec.tool_timeout
        if tool.reports_progress:
            box: list[Any] = []
            async for progress in _call_reporting_progress(
                tool, args, ctx, execution, ids, box, timeout
            ):
                yield progress
            result = json_result(box[0], execution.name)
        else:
            result = json_result(await call_tool(tool, args, ctx, timeout), execution.name)
    except (ToolArgumentsError, ToolResultError, ToolTimeoutError) as exc:
        execution.status, execution.error = "error", str(exc)
        execution.error_type = type(exc).__name__
    except Exception as exc:  # the tool's own failure goes back to the model
        execution.status = "error"
        execution.error = f"Tool {execution.name!r} raised {type(exc).__name__}: {exc}"
        execution.error_type = type(exc).__name__
    else:
        execution.status, execution.result = "completed", result
        if note:
            execution.result = {"result": result, "note": note}
    execution.duration_ms = (time.perf_counter() - start) * 1000
    if execution.status == "error":
        yield ev.ToolCallError(**ids, tool=execution)
    else:
        yield ev.ToolCallCompleted(**ids, tool=execution)


async def _call_reporting_progress(
    tool: Tool,
    args: dict[str, Any],
    ctx: RunContext,
    execution: ToolExecution,
    ids: dict[str, str],
    box: list[Any],
    timeout: float | None = None,
) -> AsyncIterator[ev.ToolCallProgress]:
    """Run the call as a task and yield its progress reports as they come (reported on
    the loop, or from a sync tool's thread); the result goes into ``box`` (exceptions
    propagate; a call that runs over ``timeout`` is cancelled, ``ToolTimeoutError``)."""
    queue: asyncio.Queue[ev.ToolCallProgress] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()

    def report(progress: float, total: float | None, message: str | None) -> None:
        event = ev.ToolCallProgress(
            **ids, tool=execution, progress=progress, total=total, message=message
        )
        if threading.get_ident() == loop_thread:
            queue.put_nowait(event)
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(queue.put_nowait, event)

    deadline = None if timeout is None else loop.time() + timeout
    task = asyncio.ensure_future(tool.call(args, replace(ctx, on_progress=report)))
    try:
        while not task.done():
            getter = asyncio.ensure_future(queue.get())
            left = None if deadline is None else deadline - loop.time()
            await asyncio.wait({task, getter}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()
                over = deadline is not None and loop.time() >= deadline
                if over and timeout is not None and not task.done():
                    task.cancel()
                    await asyncio.wait({task})  # let an async tool clean up
                    raise timed_out(tool, timeout)
        while not queue.empty():
            yield queue.get_nowait()
    finally:
        if not task.done():
            task.cancel()
    box.append(task.result())


def timed_out(tool: Tool, timeout: float) -> ToolTimeoutError:
    """The tool error of a call that ran over (logged for a sync tool, which runs on)."""
    if not tool.is_async:
        logger.warning(
            "tool %r timed out after %s s; its thread cannot be stopped and runs on until "
            "the function returns",
            tool.name,
            float(timeout),
        )
    return ToolTimeoutError(f"Tool {tool.name!r} timed out after {float(timeout)} s")


async def call_tool(
    tool: Tool, args: dict[str, Any], ctx: RunContext, timeout: float | None
) -> Any:
    """``tool.call(args, ctx)`` within ``timeout`` seconds (None: no limit)."""
    if timeout is None:
        return await tool.call(args, ctx)
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            return await tool.call(args, ctx)
    except TimeoutError:
        if not scope.expired():  # the tool's own TimeoutError
            raise
        raise timed_out(tool, timeout) from None
