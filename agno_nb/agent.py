"""``Agent``: a model, instructions, tools and a store, run as ``run`` / ``arun``."""

from __future__ import annotations

import os
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Literal, overload

from agno_nb import events as ev
from agno_nb._portal import iterate_sync, run_sync
from agno_nb.run import RunOutput

if TYPE_CHECKING:
    from pydantic import BaseModel

    from agno_nb.approvals import ApprovalRules, ApprovalSpec
    from agno_nb.desk import ApprovalDesk
    from agno_nb.models import Model
    from agno_nb.storage import Store
    from agno_nb.tools import Tool, ToolDefinition, Toolset

__all__ = ["Agent"]

_DEFAULT: Any = object()


class Agent:
    """An agent: a model, instructions and tools, with sessions and history in a store.

    ``db`` is a DuckDB path (default ``$AGNO_NB_DB`` or ``agno_nb.duckdb``), a ``Store``,
    ``None`` (in-memory) or ``False`` (nothing stored: no history, no pauses).
    ``tracing`` (default True) writes a trace of each run into the store; ``"otlp"`` also
    sends it to an OpenTelemetry collector (see docs/tracing.md); False: no spans.
    Construction is cheap: the model, tools and store are resolved on the first run.
    """

    __slots__ = (
        "_model",
        "_model_spec",
        "_store",
        "_system_prompt",
        "_tool_definitions",
        "_tools",
        "_tools_by_name",
        "add_history_to_context",
        "approvals",
        "db",
        "description",
        "id",
        "instructions",
        "markdown",
        "max_turns",
        "name",
        "num_history_runs",
        "output_retries",
        "output_schema",
        "policy_error_role",
        "self_approval",
        "session_id",
        "tool_specs",
        "tracing",
        "user_id",
    )

    def __init__(
        self,
        name: str = "agent",
        *,
        model: Model | str | None = None,
        id: str | None = None,
        description: str | None = None,
        instructions: str | Sequence[str] | None = None,
        tools: Sequence[Tool | Toolset | Callable[..., Any]] = (),
        db: str | os.PathLike[str] | Store | Literal[False] | None = _DEFAULT,
        add_history_to_context: bool = False,
        num_history_runs: int = 3,
        markdown: bool = False,
        output_schema: type[BaseModel] | None = None,
        output_retries: int = 1,
        approvals: Mapping[str, ApprovalSpec] | None = None,
        self_approval: bool = True,
        policy_error_role: str = "admin",
        session_id: str | None = None,
        user_id: str | None = None,
        max_turns: int = 25,
        tracing: bool | Literal["otlp"] = True,
    ) -> None:
        self.name = name
        self.id = id or name.strip().lower().replace(" ", "-")
        self._model_spec = model
        self._model: Model | None = None
        self.description = description
        self.instructions = instructions
        self.tool_specs = tools
        self.db = db
        self.add_history_to_context = add_history_to_context
        self.num_history_runs = num_history_runs
        self.markdown = markdown
        self.output_schema = output_schema
        self.output_retries = output_retries
        self.approvals: Mapping[str, ApprovalSpec] = approvals or {}
        self.self_approval = self_approval
        self.policy_error_role = policy_error_role
        self.session_id = session_id
        self.user_id = user_id
        self.max_turns = max_turns
        if tracing not in (True, False, "otlp"):
            from agno_nb.exceptions import ConfigError

            raise ConfigError(f"tracing must be True, False or 'otlp', not {tracing!r}")
        self.tracing: bool | Literal["otlp"] = tracing
        self._store: Store | Literal[False] | None = False if db is False else None
        self._tools: list[Tool] | None = None
        self._tools_by_name: dict[str, Tool] | None = None
        self._tool_definitions: list[ToolDefinition] | None = None
        self._system_prompt: str | Literal[False] | None = False

    def __repr__(self) -> str:
        return f"Agent(name={self.name!r}, model={self.model!r}, tools={len(self.tool_specs)})"

    # -- resolved lazily ---------------------------------------------------------------

    @property
    def model(self) -> Model:
        if self._model is None:
            from agno_nb.models import infer_model

            self._model = infer_model(self._model_spec)
        return self._model

    @model.setter
    def model(self, value: Model | str) -> None:
        self._model_spec, self._model = value, None

    @property
    def store(self) -> Store | None:
        """The store, opened on first use; None when ``db=False``."""
        if self._store is False:
            return None
        if self._store is None or self._store.closed:  # closed: open the file again
            from agno_nb.storage import default_db, open_store

            db = default_db() if self.db is _DEFAULT else self.db
            assert db is not False
            self._store = open_store(db)
        return self._store

    @property
    def rules(self) -> ApprovalRules:
        """How this agent judges tool calls: its tools' policies, ``approvals``
        overrides, ``self_approval`` and ``policy_error_role``."""
        from agno_nb.approvals import ApprovalRules

        return ApprovalRules(
            self.tools_by_name, self.approvals, self.self_approval, self.policy_error_role
        )

    @property
    def desk(self) -> ApprovalDesk:
        """The approvals desk of this agent's store, judging by this agent's rules:
        ``agent.desk.approve(run.approvals[0])``, ``agent.desk.list(status="pending")``."""
        from agno_nb.desk import ApprovalDesk

        store = self.store
        if store is None:
            from agno_nb.exceptions import ConfigError

            raise ConfigError(f"agent {self.name!r} has db=False: it has no approvals")
        return ApprovalDesk(store, lambda agent_id: self.rules if agent_id == self.id else None)

    @property
    def tools(self) -> list[Tool]:
        """The tools as of the last resolution (toolsets such as MCP servers add theirs
        when a run starts)."""
        if self._tools is None:
            from agno_nb.tools import as_tool, is_toolset

            self._tools = [as_tool(t) for t in self.tool_specs if not is_toolset(t)]
        return self._tools

    @property
    def toolsets(self) -> list[Toolset]:
        from agno_nb.tools import is_toolset

        return [t for t in self.tool_specs if is_toolset(t)]

    async def resolve_tools(self) -> list[Tool]:
        """Ask each toolset for its current tools (connecting if needed) and refresh the
        tool list, the lookup and the definitions when it changed."""
        from agno_nb.tools import as_tool, is_toolset

        resolved: list[Tool] = []
        for spec in self.tool_specs:
            if is_toolset(spec):
                resolved.extend(await spec.get_tools())
            else:
                resolved.append(as_tool(spec))
        if self._tools is None or [id(t) for t in resolved] != [id(t) for t in self._tools]:
            names = [t.name for t in resolved]
            clashes = sorted({n for n in names if names.count(n) > 1})
            if clashes:
                from agno_nb.exceptions import ConfigError

                raise ConfigError(
                    f"agent {self.name!r} has several tools named {', '.join(clashes)}: "
                    "give MCP toolsets a prefix (MCPTools(..., prefix='name_'))"
                )
            self._tools = resolved
            self._tools_by_name = self._tool_definitions = None
        return self._tools

    @property
    def tools_by_name(self) -> dict[str, Tool]:
        if self._tools_by_name is None:
            self._tools_by_name = {t.name: t for t in self.tools}
        return self._tools_by_name

    @property
    def tool_definitions(self) -> list[ToolDefinition]:
        if self._tool_definitions is None:
            from agno_nb._loop import OUTPUT_TOOL
            from agno_nb.tools import ToolDefinition

            defs = [t.definition for t in self.tools]
            if self.output_schema is not None:
                schema = self.output_schema.model_json_schema()
                defs.append(ToolDefinition(OUTPUT_TOOL, "Give the final answer.", schema))
            self._tool_definitions = defs
        return self._tool_definitions

    @property
    def system_prompt(self) -> str | None:
        if self._system_prompt is False:
            parts: list[str] = []
            if self.description:
                parts.append(self.description)
            if isinstance(self.instructions, str):
                parts.append(self.instructions)
            elif self.instructions:
                parts.extend(f"- {line}" for line in self.instructions)
            if self.markdown:
                parts.append("Use Markdown to format your answers.")
            if self.output_schema is not None:
                parts.append("Give your final answer by calling the final_result tool.")
            self._system_prompt = "\n\n".join(parts) or None
        return self._system_prompt

    def to_yaml(self) -> str:
        """The ``%%agent_def`` YAML body that recreates this agent (no secrets)."""
        from agno_nb._yaml import agent_to_yaml

        return agent_to_yaml(self)

    # -- running -------------------------------------------------------------------------

    def _start(self, prompt: str, user_id: str | None, session_id: str | None) -> RunOutput:
        from agno_nb.approvals import local_principal

        return RunOutput(
            run_id=f"run_{uuid.uuid4().hex}",
            agent_id=self.id,
            agent_name=self.name,
            session_id=session_id or self.session_id or f"ses_{uuid.uuid4().hex}",
            user_id=user_id or self.user_id or local_principal().user_id,
            input=prompt,
            model=self.model.id,
        )

    async def _events(
        self, prompt: str, user_id: str | None, session_id: str | None
    ) -> AsyncIterator[ev.RunEvent]:
        from agno_nb._loop import RunSetup, run_events
        from agno_nb.messages import Message

        run = self._start(prompt, user_id, session_id)
        store = self.store
        history = []
        # a session id we just generated is new: nobody owns it and it has no history
        if store is not None and (session_id or self.session_id):
            store.claim_session(run.session_id, run.user_id, self.id)
            if self.add_history_to_context and self.num_history_runs > 0:
                for past in store.history(run.session_id, run.user_id, self.num_history_runs):
                    history.extend(past.messages)
        run.messages.append(Message.user(prompt))
        setup = RunSetup(self, self.model, store, history, resolve_tools=bool(self.toolsets))
        async with aclosing(self._traced(run, store, run_events(setup, run))) as events:
            async for event in events:
                yield event

    @overload
    def arun(
        self,
        prompt: str,
        *,
        stream: Literal[False] = False,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> Coroutine[Any, Any, RunOutput]: ...

    @overload
    def arun(
        self,
        prompt: str,
        *,
        stream: Literal[True],
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> AsyncIterator[ev.RunEvent]: ...

    def arun(
        self,
        prompt: str,
        *,
        stream: bool = False,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> Coroutine[Any, Any, RunOutput] | AsyncIterator[ev.RunEvent]:
        """Run the agent: ``await agent.arun(...)``, or ``async for e in agent.arun(...,
        stream=True)`` for the events as they happen."""
        events = self._events(prompt, user_id, session_id)
        return events if stream else _collect(events)

    @overload
    def run(
        self,
        prompt: str,
        *,
        stream: Literal[False] = False,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> RunOutput: ...

    @overload
    def run(
        self,
        prompt: str,
        *,
        stream: Literal[True],
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> Iterator[ev.RunEvent]: ...

    def run(
        self,
        prompt: str,
        *,
        stream: bool = False,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> RunOutput | Iterator[ev.RunEvent]:
        """Run the agent synchronously; works inside a running event loop (Jupyter)."""
        events = self._events(prompt, user_id, session_id)
        return iterate_sync(events) if stream else run_sync(_collect(events))

    # -- approvals ---------------------------------------------------------------------

    def continue_run(
        self, run_id: str, *, stream: bool = False
    ) -> RunOutput | Iterator[ev.RunEvent]:
        """Continue a paused run whose approvals are all decided (any process, same store)."""
        events = self._continue_events(run_id)
        return iterate_sync(events) if stream else run_sync(_collect(events))

    def acontinue_run(
        self, run_id: str, *, stream: bool = False
    ) -> Coroutine[Any, Any, RunOutput] | AsyncIterator[ev.RunEvent]:
        """The async ``continue_run``."""
        events = self._continue_events(run_id)
        return events if stream else _collect(events)

    async def _continue_events(self, run_id: str) -> AsyncIterator[ev.RunEvent]:
        from agno_nb._loop import RunSetup, run_events

        store = self.store
        if store is None:
            from agno_nb.exceptions import ConfigError

            raise ConfigError("continue_run needs a store: this agent has db=False")
        run = self.desk.lease(run_id, self.id)
        history = []
        if self.add_history_to_context and self.num_history_runs > 0:
            for past in store.history(run.session_id, run.user_id, self.num_history_runs):
                history.extend(past.messages)
        setup = RunSetup(self, self.model, store, history, resolve_tools=bool(self.toolsets))
        resume = ev.RunContinued(
            run_id=run.run_id,
            agent_id=run.agent_id,
            session_id=run.session_id,
            user_id=run.user_id,
        )
        traced = self._traced(run, store, run_events(setup, run, resume=resume))
        async with aclosing(traced) as events:
            async for event in events:
                yield event

    async def _traced(
        self, run: RunOutput, store: Store | None, events: AsyncGenerator[ev.RunEvent, None]
    ) -> AsyncGenerator[ev.RunEvent, None]:
        """``events``, recorded as spans when tracing is on."""
        from agno_nb.tracing import start_trace

        trace = start_trace(self, run, store) if self.tracing else None
        if trace is None:
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


async def _collect(events: AsyncIterator[ev.RunEvent]) -> RunOutput:
    """Consume a run's events; return its output, or raise the error that ended it."""
    final: ev.RunEvent | None = None
    async for event in events:
        final = event
    if isinstance(final, ev.RunCompleted | ev.RunPaused):
        return final.run
    if isinstance(final, ev.RunError) and final.exception is not None:
        raise final.exception
    raise RuntimeError("the run ended without a final event")  # pragma: no cover
