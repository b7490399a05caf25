"""``Agent``: a model, instructions, tools and a store, run as ``run`` / ``arun``."""

from __future__ import annotations

import os
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Literal, overload

from agno_nb import events as ev
from agno_nb._portal import iterate_sync, run_sync
from agno_nb._runs import collect, continued, started
from agno_nb.models import parse_model_string
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
    ``tool_timeout`` (seconds) bounds each tool call whose tool sets no ``timeout``;
    None (the default) is no limit.
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
        "tool_timeout",
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
        tool_timeout: float | None = None,
        tracing: bool | Literal["otlp"] = True,
    ) -> None:
        self.name = name
        self.id = id or name.strip().lower().replace(" ", "-")
        if isinstance(model, str):  # a typo fails here, not at the first run
            parse_model_string(model)
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
        if tool_timeout is not None:
            from agno_nb.tools import check_timeout

            tool_timeout = check_timeout(tool_timeout, "tool_timeout")
        self.tool_timeout = tool_timeout
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
        if isinstance(value, str):
            parse_model_string(value)
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

    def use_store(self, store: Store) -> None:
        """Keep this agent's sessions, runs, approvals and spans in ``store`` from now on,
        instead of the store ``db`` names (the service hands its one store to all its
        agents this way). ``db`` is left as it was: if ``store`` is closed, the agent's
        next use opens ``db`` again."""
        self._store = store

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
            from agno_nb._runspec import tool_definitions

            self._tool_definitions = tool_definitions(self.tools, self.output_schema)
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

    @classmethod
    def from_yaml(
        cls, text: str, namespace: Mapping[str, Any] | None = None, *, name: str | None = None
    ) -> Agent:
        """The agent a ``%%agent_def`` YAML body defines: ``Agent.from_yaml(text,
        globals())``. The tools and output schema it names are looked up in ``namespace``;
        ``name`` is the default for its ``name:`` key. Raises ``AgentDefinitionError`` (a
        ``ConfigError``) naming the line and key of each problem."""
        from agno_nb._yaml_build import agent_from_yaml

        return agent_from_yaml(text, namespace, name=name, cls=cls)

    def to_yaml(self) -> str:
        """The ``%%agent_def`` YAML body that recreates this agent (no secrets);
        ``Agent.from_yaml`` reads it back."""
        from agno_nb._yaml_build import agent_to_yaml

        return agent_to_yaml(self)

    # -- running -------------------------------------------------------------------------

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
        events = started(self, prompt, user_id, session_id)
        return events if stream else collect(events)

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
        events = started(self, prompt, user_id, session_id)
        return iterate_sync(events) if stream else run_sync(collect(events))

    # -- stored runs and approvals ------------------------------------------------------

    def get_run(self, run_id: str) -> RunOutput:
        """The stored run (a paused one with its approvals), from this agent's store, in
        any process; raises ``RunNotFoundError`` (also for another agent's run)."""
        from agno_nb.exceptions import ConfigError, RunNotFoundError

        store = self.store
        if store is None:
            raise ConfigError(f"agent {self.name!r} has db=False: it stores no runs")
        run = store.get_run(run_id)
        if run is None or run.agent_id != self.id:
            raise RunNotFoundError(f"no run {run_id!r} of agent {self.id!r} in {store!r}")
        return run

    async def aget_run(self, run_id: str) -> RunOutput:
        """``get_run`` without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(self.get_run, run_id)

    def continue_run(
        self, run_id: str, *, stream: bool = False
    ) -> RunOutput | Iterator[ev.RunEvent]:
        """Continue a paused run whose approvals are all decided (any process, same store)."""
        events = continued(self, run_id)
        return iterate_sync(events) if stream else run_sync(collect(events))

    def acontinue_run(
        self, run_id: str, *, stream: bool = False
    ) -> Coroutine[Any, Any, RunOutput] | AsyncIterator[ev.RunEvent]:
        """The async ``continue_run``."""
        events = continued(self, run_id)
        return events if stream else collect(events)
