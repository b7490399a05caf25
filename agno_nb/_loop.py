"""The run loop: model turn, tool calls, approvals, pause, completion.

``run_events`` is an async generator of run events; every way of running an agent
(``run``, ``arun``, streaming, the notebook, the service) consumes it. See the state
diagram in docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING

from agno_nb import events as ev
from agno_nb._calls import execute_tool
from agno_nb._runspec import OUTPUT_TOOL
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

if TYPE_CHECKING:
    from agno_nb._runspec import RunSpec
    from agno_nb.storage import Store


def _failed(run: RunOutput, exc: BaseException) -> None:
    run.status = RunStatus.FAILED
    run.error = str(exc)
    run.error_type = type(exc).__name__
    run.finished_at = run.updated_at = utcnow()


def _save_failed(store: Store, run: RunOutput) -> str | None:
    """Save the ended run durably; if that fails, say why in ``run.error`` (the run stays
    ended in memory) and save it without its messages, tool calls and content (what may
    not encode) so that its row does not stay ``running``. Returns the note, if any."""
    try:
        store.save_run(run, durable=True)
    except Exception as exc:
        note = f"saving the failed run failed: {type(exc).__name__}: {exc}"
        run.error = f"{run.error} (and {note})"
        with contextlib.suppress(Exception):
            store.save_run(replace(run, messages=[], tool_calls=[], content=None), durable=True)
        return note
    return None


async def run_events(
    spec: RunSpec,
    run: RunOutput,
    *,
    resume: ev.RunContinued | None = None,
    failure: AgnoNBError | None = None,
) -> AsyncGenerator[ev.RunEvent, None]:
    """Drive ``run`` to completion, failure or the next pause, yielding its events. Reads
    ``spec`` (fixed for this run), never the agent. ``failure``: what went wrong while
    the spec was prepared (a toolset that cannot be reached): the run is recorded, then
    fails with it."""
    store = spec.store
    ids = {"run_id": run.run_id, "agent_id": run.agent_id, "session_id": run.session_id}
    try:
        if resume is None:
            yield ev.RunStarted(**ids, model=spec.model.id, user_id=run.user_id)
            if store is not None:
                store.save_run(run)
        else:
            yield resume
        if failure is not None:
            raise failure
        if resume is not None:
            async for event in _resume_pending(spec, run, ids):
                yield event
        output_errors = 0
        while True:
            async for event in _model_turn(spec, run, ids):
                yield event
            last = run.messages[-1]
            calls = last.tool_calls
            if spec.output_schema is not None:
                retry = _try_output(spec, run, last, output_errors)
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
                async for event in _handle_call(spec, run, call, ids, pending):
                    yield event
            if pending:
                _pause(spec, run, pending)
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
            _save_failed(store, run)
        yield ev.RunError(
            **ids,
            error=run.error or str(exc),
            error_type=type(exc).__name__,
            run=run,
            exception=exc,
        )
    except BaseException as exc:  # cancelled, interrupted, or a bug: never leave 'running'
        if run.status == RunStatus.RUNNING:  # a consumer that stops early is no failure
            _failed(run, exc)
            if not isinstance(exc, Exception):
                run.status = RunStatus.CANCELLED
            note = _save_failed(store, run) if store is not None else None
            if note is not None:
                exc.add_note(note)
        raise


async def _model_turn(
    spec: RunSpec, run: RunOutput, ids: dict[str, str]
) -> AsyncIterator[ev.RunEvent]:
    if run.usage.requests >= spec.max_turns:
        raise ToolCallLimitError(
            f"the model made {run.usage.requests} requests without finishing "
            f"(Agent(max_turns={spec.max_turns})); the run stops here"
        )
    request = ModelRequest(
        system=spec.system_prompt,
        messages=spec.history + run.messages,
        tools=spec.tool_definitions,
        output_tool=OUTPUT_TOOL if spec.output_schema is not None else None,
    )
    yield ev.ModelRequestStarted(**ids, model=spec.model.id)
    response: ModelResponse | None = None
    async for item in spec.model.stream(request):
        if isinstance(item, TextDelta):
            if item.text:
                yield ev.RunContent(**ids, content=item.text)
        else:
            response = item
    if response is None:
        raise ModelError(f"{spec.model.id}: the model returned no response")
    run.usage.add(response.usage)
    run.model = response.model_name or spec.model.id
    run.stop_reason = response.stop_reason
    calls = response.tool_calls
    if response.stop_reason == "max_tokens" and calls:
        raise ModelError(
            f"{spec.model.id}: the answer was cut off at max_tokens in the middle of a tool "
            "call; raise the model's max_tokens"
        )
    parts = _unique_call_ids(spec.history + run.messages, response.parts) if calls else None
    run.messages.append(Message("assistant", parts or response.parts))
    yield ev.ModelRequestCompleted(
        **ids,
        model=run.model,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        stop_reason=response.stop_reason,
        cache_read_tokens=response.usage.cache_read_tokens,
        cache_write_tokens=response.usage.cache_write_tokens,
    )


def _unique_call_ids(
    messages: list[Message], parts: list[TextPart | ToolCallPart | ToolResultPart]
) -> list[TextPart | ToolCallPart | ToolResultPart] | None:
    """``parts`` with each tool call under an id not used before in ``messages`` or
    ``parts``, or None if they all are. A model that reuses an id (twice in one turn, or
    from an earlier turn) gets the later call renamed ``<id>_2``, ``<id>_3``...: each call
    runs, each result answers one call, and the Messages API gets ``tool_use`` ids that are
    unique in the request, each matched by exactly one ``tool_result``."""
    used = {p.id for m in messages for p in m.parts if isinstance(p, ToolCallPart)}
    fixed = list(parts)
    renamed = False
    for i, part in enumerate(fixed):
        if isinstance(part, ToolCallPart):
            if part.id in used:
                n = 2
                while f"{part.id}_{n}" in used:
                    n += 1
                part = fixed[i] = ToolCallPart(f"{part.id}_{n}", part.name, part.args)
                renamed = True
            used.add(part.id)
    return fixed if renamed else None


def _try_output(spec: RunSpec, run: RunOutput, last: Message, errors: int) -> Message | bool | None:
    """Check the model's final answer against ``output_schema``.

    Returns None when ``run.content`` holds the validated answer, False when the turn has
    ordinary tool calls to run first, or a message asking the model to try again.
    """
    from pydantic import ValidationError

    schema = spec.output_schema
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
    if errors >= spec.output_retries:
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
    spec: RunSpec,
    run: RunOutput,
    call: ToolCallPart,
    ids: dict[str, str],
    pending: list[ApprovalRequest],
) -> AsyncIterator[ev.RunEvent]:
    execution = ToolExecution(id=call.id, name=call.name, args=call.args)
    run.tool_calls.append(execution)
    tool = spec.tools_by_name.get(call.name)
    verdict = (
        spec.rules.classify(ToolCall(call.id, call.name, call.args)) if tool is not None else None
    )
    policy = None if verdict is None else verdict.rule
    if tool is not None and policy is not None:
        if spec.store is None:
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
            self_approval=spec.rules.self_approval,
            policy_error=None if verdict is None else verdict.policy_error,
        )
        execution.approval_id = approval.approval_id
        execution.required_role = policy.role
        pending.append(approval)
        return
    async for event in execute_tool(spec, run, execution, call.args, ids):
        yield event


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


def _pause(spec: RunSpec, run: RunOutput, pending: list[ApprovalRequest]) -> None:
    assert spec.store is not None
    run.status = RunStatus.PAUSED
    run.updated_at = utcnow()
    run.approvals = pending
    spec.store.save_pause(run, pending)


async def _resume_pending(
    spec: RunSpec, run: RunOutput, ids: dict[str, str]
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
                edited = json.dumps(args, ensure_ascii=False, default=str)
                note = f"arguments edited by {approval.decided_by} before approval: {edited}"
            execution.args = args
            async for event in execute_tool(spec, run, execution, args, ids, note=note):
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
