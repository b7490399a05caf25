"""The run loop: model turn, tool calls, approvals, pause, completion.

``run_events`` is an async generator of run events; every way of running an agent
(``run``, ``arun``, streaming, the notebook, the service) consumes it. See the state
diagram in ARCHITECTURE.md.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from agno_nb import events as ev
from agno_nb.approvals import ApprovalRequest, ToolCall
from agno_nb.exceptions import (
    AgnoNBError,
    ConfigError,
    ModelError,
    OutputValidationError,
    ToolCallLimitError,
)
from agno_nb.messages import Message, TextPart, ToolCallPart, ToolResultPart
from agno_nb.models import ModelRequest, ModelResponse, TextDelta
from agno_nb.run import RunOutput, RunStatus, ToolExecution, utcnow
from agno_nb.tools import RunContext, ToolArgumentsError, result_to_content

if TYPE_CHECKING:
    from agno_nb.agent import Agent
    from agno_nb.models import Model
    from agno_nb.storage import Store
    from agno_nb.tools import Tool

OUTPUT_TOOL = "final_result"


@dataclass(slots=True)
class RunSetup:
    """Everything a run needs that the agent computes once per run."""

    agent: Agent
    model: Model
    store: Store | None
    history: list[Message]
    #: resolves the agent's toolsets (MCP servers) once the run is recorded, so that a
    #: server that cannot be reached fails the run, stored, instead of losing it
    resolve_tools: bool = False


def _failed(run: RunOutput, exc: BaseException) -> None:
    run.status = RunStatus.FAILED
    run.error = str(exc)
    run.error_type = type(exc).__name__
    run.finished_at = run.updated_at = utcnow()


async def run_events(
    setup: RunSetup, run: RunOutput, *, resume: ev.RunContinued | None = None
) -> AsyncGenerator[ev.RunEvent, None]:
    """Drive ``run`` to completion, failure or the next pause, yielding its events."""
    agent, store = setup.agent, setup.store
    ids = {"run_id": run.run_id, "agent_id": run.agent_id, "session_id": run.session_id}
    try:
        if resume is None:
            yield ev.RunStarted(**ids, model=setup.model.id, user_id=run.user_id)
            if store is not None:
                store.save_run(run)
        else:
            yield resume
        if setup.resolve_tools:
            await agent.resolve_tools()
        if resume is not None:
            async for event in _resume_pending(setup, run, ids):
                yield event
        output_errors = 0
        while True:
            async for event in _model_turn(setup, run, ids):
                yield event
            last = run.messages[-1]
            calls = last.tool_calls
            if agent.output_schema is not None:
                retry = _try_output(agent, run, last, output_errors)
                if retry is None:
                    break
                if isinstance(retry, Message):
                    output_errors += 1
                    run.messages.append(retry)
                    continue
            elif not calls:
                run.content = last.text
                break
            pending: list[ApprovalRequest] = []
            for call in calls:
                async for event in _handle_call(setup, run, call, ids, pending):
                    yield event
            if pending:
                _pause(setup, run, pending)
                for approval in pending:
                    yield ev.ApprovalRequested(**ids, approval=approval)
                yield ev.RunPaused(**ids, run=run)
                return
            run.messages.append(_results_message(run, calls))
        run.status = RunStatus.COMPLETED
        run.finished_at = run.updated_at = utcnow()
        if store is not None:
            store.save_run(run)
        yield ev.RunCompleted(**ids, run=run)
    except AgnoNBError as exc:
        exc.run_id = run.run_id
        _failed(run, exc)
        if store is not None:
            store.save_run(run, durable=True)
        yield ev.RunError(
            **ids, error=str(exc), error_type=type(exc).__name__, run=run, exception=exc
        )
    except BaseException as exc:  # cancelled, interrupted, or a bug: never leave 'running'
        if run.status == RunStatus.RUNNING:  # a consumer that stops early is no failure
            _failed(run, exc)
            if not isinstance(exc, Exception):
                run.status = RunStatus.CANCELLED
            if store is not None:
                store.save_run(run, durable=True)
        raise


async def _model_turn(
    setup: RunSetup, run: RunOutput, ids: dict[str, str]
) -> AsyncIterator[ev.RunEvent]:
    agent = setup.agent
    if run.usage.requests >= agent.max_turns:
        raise ToolCallLimitError(
            f"the model made {run.usage.requests} requests without finishing "
            f"(Agent(max_turns={agent.max_turns})); the run stops here"
        )
    request = ModelRequest(
        system=agent.system_prompt,
        messages=setup.history + run.messages,
        tools=agent.tool_definitions,
        output_tool=OUTPUT_TOOL if agent.output_schema is not None else None,
    )
    yield ev.ModelRequestStarted(**ids, model=setup.model.id)
    response: ModelResponse | None = None
    async for item in setup.model.stream(request):
        if isinstance(item, TextDelta):
            if item.text:
                yield ev.RunContent(**ids, content=item.text)
        else:
            response = item
    if response is None:
        raise ModelError(f"{setup.model.id}: the model returned no response")
    run.usage.add(response.usage)
    run.model = response.model_name or setup.model.id
    run.stop_reason = response.stop_reason
    if response.stop_reason == "max_tokens" and response.tool_calls:
        raise ModelError(
            f"{setup.model.id}: the answer was cut off at max_tokens in the middle of a tool "
            "call; raise the model's max_tokens"
        )
    run.messages.append(Message("assistant", response.parts))
    yield ev.ModelRequestCompleted(
        **ids,
        model=run.model,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        stop_reason=response.stop_reason,
        cache_read_tokens=response.usage.cache_read_tokens,
        cache_write_tokens=response.usage.cache_write_tokens,
    )


def _try_output(agent: Agent, run: RunOutput, last: Message, errors: int) -> Message | bool | None:
    """Check the model's final answer against ``output_schema``.

    Returns None when ``run.content`` holds the validated answer, False when the turn has
    ordinary tool calls to run first, or a message asking the model to try again.
    """
    from pydantic import ValidationError

    schema = agent.output_schema
    assert schema is not None
    output_call = next((c for c in last.tool_calls if c.name == OUTPUT_TOOL), None)
    if output_call is None and last.tool_calls:
        return False
    try:
        if output_call is not None:
            run.content = schema.model_validate(output_call.args)
        else:
            text = last.text.strip().removeprefix("```json").removeprefix("```")
            run.content = schema.model_validate_json(text.removesuffix("```").strip())
        return None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:5]
        )
    if errors >= agent.output_retries:
        raise OutputValidationError(
            f"the model's answer does not fit output_schema {schema.__name__} "
            f"after {errors + 1} attempt(s): {problems}"
        )
    hint = f"Your answer does not fit the required schema ({problems}). "
    if output_call is None:
        return Message.user(hint + f"Give the final answer by calling {OUTPUT_TOOL}.")
    parts: list[TextPart | ToolCallPart | ToolResultPart] = [
        ToolResultPart(c.id, c.name, hint + "Call it again with fixed arguments.", True)
        if c is output_call
        else ToolResultPart(c.id, c.name, "Not run: the final answer was given.", True)
        for c in last.tool_calls
    ]
    return Message("user", list(parts))


async def _handle_call(
    setup: RunSetup,
    run: RunOutput,
    call: ToolCallPart,
    ids: dict[str, str],
    pending: list[ApprovalRequest],
) -> AsyncIterator[ev.RunEvent]:
    agent = setup.agent
    execution = ToolExecution(id=call.id, name=call.name, args=call.args)
    run.tool_calls.append(execution)
    tool = agent.tools_by_name.get(call.name)
    verdict = (
        agent.rules.classify(ToolCall(call.id, call.name, call.args))
        if tool is not None
        else None
    )
    policy = None if verdict is None else verdict.rule
    if tool is not None and policy is not None:
        if setup.store is None:
            raise ConfigError(
                f"tool {call.name!r} needs approval, and a run that pauses must be stored: "
                "give the agent a db (db=None is an in-memory store)"
            )
        now = utcnow()
        approval = ApprovalRequest(
            approval_id=f"apr_{uuid.uuid4().hex}",
            run_id=run.run_id,
            session_id=run.session_id,
            agent_id=run.agent_id,
            tool_call_id=call.id,
            tool_name=call.name,
            args=call.args,
            required_role=policy.role,
            requested_by=run.user_id,
            requested_at=now,
            expires_at=now + policy.expires_in if policy.expires_in else None,
            self_approval=agent.self_approval,
            policy_error=None if verdict is None else verdict.policy_error,
        )
        execution.approval_id = approval.approval_id
        execution.required_role = policy.role
        pending.append(approval)
        return
    async for event in execute_tool(setup, run, execution, call.args, ids):
        yield event


async def execute_tool(
    setup: RunSetup,
    run: RunOutput,
    execution: ToolExecution,
    args: dict[str, Any],
    ids: dict[str, str],
    note: str | None = None,
) -> AsyncIterator[ev.RunEvent]:
    """Run one tool call; errors become tool errors for the model, never run failures."""
    agent = setup.agent
    yield ev.ToolCallStarted(**ids, tool=execution)
    execution.started_at = utcnow()
    start = time.perf_counter()
    tool = agent.tools_by_name.get(execution.name)
    try:
        if tool is None:
            known = ", ".join(sorted(agent.tools_by_name)) or "none"
            raise ToolArgumentsError(f"Unknown tool {execution.name!r}. Available tools: {known}.")
        ctx = RunContext(run.run_id, run.session_id, run.user_id, agent)
        if tool.reports_progress:
            box: list[Any] = []
            async for progress in _call_reporting_progress(tool, args, ctx, execution, ids, box):
                yield progress
            result = result_to_content(box[0])
        else:
            result = result_to_content(await tool.call(args, ctx))
    except ToolArgumentsError as exc:
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
) -> AsyncIterator[ev.ToolCallProgress]:
    """Run the call as a task and yield its progress reports as they come; the result
    goes into ``box`` (exceptions propagate)."""
    queue: asyncio.Queue[ev.ToolCallProgress] = asyncio.Queue()

    def report(progress: float, total: float | None, message: str | None) -> None:
        queue.put_nowait(
            ev.ToolCallProgress(
                **ids, tool=execution, progress=progress, total=total, message=message
            )
        )

    task = asyncio.ensure_future(tool.call(args, replace(ctx, on_progress=report)))
    try:
        while not task.done():
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()
        while not queue.empty():
            yield queue.get_nowait()
    finally:
        if not task.done():
            task.cancel()
    box.append(task.result())


def _results_message(run: RunOutput, calls: list[ToolCallPart]) -> Message:
    by_id = {t.id: t for t in run.tool_calls}
    parts: list[TextPart | ToolCallPart | ToolResultPart] = []
    for call in calls:
        execution = by_id[call.id]
        if execution.is_error:
            parts.append(ToolResultPart(call.id, call.name, execution.error, is_error=True))
        else:
            parts.append(ToolResultPart(call.id, call.name, execution.result))
    return Message("user", list(parts))


def _pause(setup: RunSetup, run: RunOutput, pending: list[ApprovalRequest]) -> None:
    assert setup.store is not None
    run.status = RunStatus.PAUSED
    run.updated_at = utcnow()
    run.approvals = pending
    setup.store.save_pause(run, pending)


async def _resume_pending(
    setup: RunSetup, run: RunOutput, ids: dict[str, str]
) -> AsyncIterator[ev.RunEvent]:
    """Run the approved calls of the paused turn, reject the others, then go on."""
    decided = {a.tool_call_id: a for a in run.approvals}
    calls = run.messages[-1].tool_calls
    by_id = {t.id: t for t in run.tool_calls}
    for call in calls:
        execution = by_id[call.id]
        if execution.status != "pending":
            continue
        approval = decided[call.id]
        if approval.status == "approved":
            args = approval.edited_args if approval.edited_args is not None else approval.args
            note = None
            if approval.edited_args is not None and approval.edited_args != approval.args:
                note = f"arguments edited by {approval.decided_by} before approval: {args}"
            execution.args = args
            async for event in execute_tool(setup, run, execution, args, ids, note=note):
                yield event
        else:
            who = approval.decided_by or "nobody"
            if approval.status == "expired":
                why = f"the approval expired at {approval.expires_at:%Y-%m-%d %H:%M:%S %Z}"
            else:
                why = f"rejected by {who}: {approval.reason or 'no reason given'}"
            execution.status = "rejected"
            execution.error = f"The call to {call.name!r} was not approved ({why})."
            yield ev.ToolCallError(**ids, tool=execution)
    run.messages.append(_results_message(run, calls))
