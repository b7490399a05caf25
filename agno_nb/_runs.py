"""From an agent call to a traced run: the session and history, the ``RunSpec``, the
loop, the trace, and the collected output.

``started`` serves ``Agent.run`` / ``arun``; ``continued`` serves ``continue_run`` (after
the desk leased the paused run). Both build the spec once, resolve its toolsets, and hand
the loop and the trace the same spec: neither reads the agent again.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING

from agno_nb import events as ev
from agno_nb.run import RunOutput

if TYPE_CHECKING:
    from agno_nb._runspec import RunSpec
    from agno_nb.agent import Agent
    from agno_nb.messages import Message
    from agno_nb.storage import Store

__all__ = ["collect", "continued", "spec_of", "started"]


def spec_of(agent: Agent, store: Store | None, history: list[Message]) -> RunSpec:
    """The frozen value one run of ``agent`` reads."""
    from agno_nb._runspec import RunSpec

    return RunSpec(
        agent_id=agent.id,
        agent_name=agent.name,
        model=agent.model,
        system_prompt=agent.system_prompt,
        tools_by_name=agent.tools_by_name,
        tool_definitions=agent.tool_definitions,
        rules=agent.rules,
        store=store,
        history=history,
        output_schema=agent.output_schema,
        output_retries=agent.output_retries,
        max_turns=agent.max_turns,
        tool_timeout=agent.tool_timeout,
        tracing=agent.tracing,
        resolve_tools=agent.resolve_tools if agent.toolsets else None,
    )


def _history(agent: Agent, store: Store, run: RunOutput) -> list[Message]:
    history: list[Message] = []
    if agent.add_history_to_context and agent.num_history_runs > 0:
        for past in store.history(run.session_id, run.user_id, agent.num_history_runs):
            history.extend(past.messages)
    return history


async def started(
    agent: Agent, prompt: str, user_id: str | None, session_id: str | None
) -> AsyncGenerator[ev.RunEvent, None]:
    """The events of a new run of ``agent`` on ``prompt``."""
    from agno_nb.approvals import local_principal
    from agno_nb.messages import Message

    run = RunOutput(
        run_id=f"run_{uuid.uuid4().hex}",
        agent_id=agent.id,
        agent_name=agent.name,
        session_id=session_id or agent.session_id or f"ses_{uuid.uuid4().hex}",
        user_id=user_id or agent.user_id or local_principal().user_id,
        input=prompt,
        model=agent.model.id,
    )
    store = agent.store
    history: list[Message] = []
    # a session id we just generated is new: nobody owns it and it has no history
    if store is not None and (session_id or agent.session_id):
        store.claim_session(run.session_id, run.user_id, agent.id)
        history = _history(agent, store, run)
    run.messages.append(Message.user(prompt))
    async with aclosing(_traced_run(spec_of(agent, store, history), run)) as events:
        async for event in events:
            yield event


async def continued(agent: Agent, run_id: str) -> AsyncGenerator[ev.RunEvent, None]:
    """The events of a paused run of ``agent`` taken up again (its lease taken first)."""
    store = agent.store
    if store is None:
        from agno_nb.exceptions import ConfigError

        raise ConfigError("continue_run needs a store: this agent has db=False")
    run = agent.desk.lease(run_id, agent.id)
    resume = ev.RunContinued(
        run_id=run.run_id, agent_id=run.agent_id, session_id=run.session_id,
        user_id=run.user_id,
    )  # fmt: skip
    spec = spec_of(agent, store, _history(agent, store, run))
    async with aclosing(_traced_run(spec, run, resume)) as events:
        async for event in events:
            yield event


async def _traced_run(
    spec: RunSpec, run: RunOutput, resume: ev.RunContinued | None = None
) -> AsyncGenerator[ev.RunEvent, None]:
    """The run's events, recorded as spans when tracing is on. The toolsets are resolved
    first, so that the loop and the trace read the same tools; a toolset that cannot be
    reached fails the run (stored) through the loop."""
    from agno_nb._loop import run_events
    from agno_nb.exceptions import AgnoNBError
    from agno_nb.tracing import start_trace

    failure = None
    try:
        spec = await spec.resolved()
    except AgnoNBError as exc:
        failure = exc
    events = run_events(spec, run, resume=resume, failure=failure)
    trace = start_trace(spec, run) if spec.tracing else None
    if trace is None:
        async with aclosing(events):
            async for event in events:
                yield event
        return
    try:
        async for event in events:
            trace.observe(event)
            yield event
    finally:
        await events.aclose()  # a consumer that stops early: the run ends cancelled
        trace.close()


async def collect(events: AsyncIterator[ev.RunEvent]) -> RunOutput:
    """Consume a run's events; return its output, or raise the error that ended it."""
    final: ev.RunEvent | None = None
    async for event in events:
        final = event
    if isinstance(final, ev.RunCompleted | ev.RunPaused):
        return final.run
    if isinstance(final, ev.RunError) and final.exception is not None:
        raise final.exception
    raise RuntimeError("the run ended without a final event")  # pragma: no cover
