"""Tools: Python functions the model may call.

``@tool`` turns a function (sync or async) into a ``Tool``. The JSON schema the model sees
comes from the type hints and the docstring (Google, NumPy or reST ``Args`` sections), via
pydantic; the same pydantic model validates the model's arguments before the call. A first
parameter annotated ``RunContext`` receives the run's ids and the agent, and is not shown
to the model. The schema is built on first use, so defining tools stays cheap.

Sync tools run in worker threads (``tool_threads()`` at once, 32 by default;
``agno_nb._tool_threads``), a call may have a ``timeout`` (``agno_nb._calls``), and
results are made strict JSON (``agno_nb._tool_json``).
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Protocol,
    TypeVar,
    get_type_hints,
    overload,
    runtime_checkable,
)

from agno_nb._tool_threads import in_tool_thread, set_tool_threads, tool_threads

if TYPE_CHECKING:
    from pydantic import BaseModel
    from typing_extensions import TypeIs

    from agno_nb.approvals import ApprovalSpec

__all__ = [
    "RunContext",
    "Tool",
    "ToolArgumentsError",
    "ToolDefinition",
    "ToolResultError",
    "ToolTimeoutError",
    "Toolset",
    "set_tool_threads",
    "tool",
    "tool_threads",
]

F = TypeVar("F", bound=Callable[..., Any])


ProgressCallback = Callable[[float, "float | None", "str | None"], None]


@dataclass(slots=True, frozen=True)
class RunContext:
    """What a tool may know about the run that calls it: its ids and the agent's (never
    the agent itself: a run reads a fixed spec, and a tool cannot change it)."""

    run_id: str
    session_id: str
    user_id: str
    agent_id: str
    agent_name: str
    on_progress: ProgressCallback | None = None

    def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Tell the run's event stream how far a long tool call is (``ToolCallProgress``).

        Takes effect for tools created with ``reports_progress=True``; a no-op otherwise.
        """
        if self.on_progress is not None:
            self.on_progress(progress, total, message)


@runtime_checkable
class Toolset(Protocol):
    """A source of several tools resolved at run time (e.g. an MCP server)."""

    async def get_tools(self) -> list[Tool]:
        """The tools on offer now (connecting first if needed)."""
        ...


def is_toolset(spec: object) -> TypeIs[Toolset]:
    """``isinstance(spec, Toolset)``, at the cost of one attribute lookup (a runtime
    protocol check costs far more, and a run asks once per tool)."""
    return hasattr(spec, "get_tools")


@dataclass(slots=True, frozen=True)
class ToolDefinition:
    """A tool as the model sees it."""

    name: str
    description: str
    input_schema: dict[str, Any]


class ToolArgumentsError(ValueError):
    """The model's arguments do not fit the tool's schema (sent back to the model)."""


class ToolResultError(ValueError):
    """The tool returned a value that cannot be made JSON (sent back to the model)."""


class ToolTimeoutError(TimeoutError):
    """The call ran over its timeout (sent back to the model)."""


def check_timeout(timeout: float | None, what: str) -> float | None:
    """``timeout`` as float seconds, or None (no limit); ``ConfigError`` if not > 0."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        from agno_nb.exceptions import ConfigError

        raise ConfigError(f"{what} must be a positive number of seconds or None, not {timeout!r}")
    return float(timeout)


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def _format_validation_error(name: str, error: Any) -> str:
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        problems.append(f"{where}: {item['msg']}")
    return f"Invalid arguments for tool {name!r}: " + "; ".join(problems)


class Tool:
    """A callable the model may use, with its schema and approval policy."""

    __slots__ = (
        "_args_model",
        "_definition",
        "approval",
        "description",
        "function",
        "is_async",
        "metadata",
        "name",
        "reports_progress",
        "takes_ctx",
        "timeout",
    )

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        approval: ApprovalSpec = None,
        input_schema: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        reports_progress: bool = False,
        timeout: float | None = None,
    ) -> None:
        self.function = function
        self.name = name or function.__name__
        self.description = description
        self.approval = approval
        self.is_async = inspect.iscoroutinefunction(function)
        self.takes_ctx = _first_param_is_context(function)
        self.metadata = metadata or {}
        self.reports_progress = reports_progress
        #: seconds a call may take (None: the agent's ``tool_timeout``)
        self.timeout = check_timeout(timeout, f"tool {self.name!r}: timeout")
        self._args_model: type[BaseModel] | None = None
        self._definition: ToolDefinition | None = None
        if input_schema is not None:  # the schema is given (MCP): the server validates
            self._definition = ToolDefinition(self.name, description or self.name, input_schema)

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, approval={self.approval!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped function directly (handy in tests and notebooks)."""
        return self.function(*args, **kwargs)

    @property
    def args_model(self) -> type[BaseModel]:
        if self._args_model is None:
            self._build()
        assert self._args_model is not None
        return self._args_model

    @property
    def definition(self) -> ToolDefinition:
        if self._definition is None:
            self._build()
        assert self._definition is not None
        return self._definition

    def _build(self) -> None:
        from docstring_parser import parse
        from pydantic import ConfigDict, Field, create_model

        doc = parse(inspect.getdoc(self.function) or "")
        param_docs = {p.arg_name: p.description for p in doc.params}
        hints = get_type_hints(self.function, include_extras=True)
        fields: dict[str, Any] = {}
        params = list(inspect.signature(self.function).parameters.values())
        if self.takes_ctx:
            params = params[1:]
        for param in params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"tool {self.name!r}: *args and **kwargs are not supported")
            annotation = hints.get(param.name, Any)
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (
                annotation,
                Field(default, description=param_docs.get(param.name)),
            )
        self._args_model = create_model(
            f"{self.name}_args", __config__=ConfigDict(extra="forbid"), **fields
        )
        description = self.description
        if description is None:
            parts = [doc.short_description or "", doc.long_description or ""]
            description = "\n\n".join(p for p in parts if p) or self.name
        schema = _strip_titles(self._args_model.model_json_schema())
        self._definition = ToolDefinition(self.name, description, schema)

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        """The model's arguments, validated and converted; raises ToolArgumentsError."""
        from pydantic import ValidationError

        if self._args_model is None and self._definition is not None:
            return _check_given_schema(self.name, self._definition.input_schema, args)

        try:
            model = self.args_model.model_validate(args)
        except ValidationError as exc:
            raise ToolArgumentsError(_format_validation_error(self.name, exc)) from None
        return {name: getattr(model, name) for name in type(model).model_fields}

    async def call(self, args: dict[str, Any], ctx: RunContext) -> Any:
        """Validate ``args`` and call the function: awaited if async, in a tool thread if
        not (no timeout here: the run loop applies it)."""
        kwargs = self.validate(args)
        function = self.function
        if self.is_async:
            return await (function(ctx, **kwargs) if self.takes_ctx else function(**kwargs))
        if self.takes_ctx:
            result = await in_tool_thread(function, ctx, **kwargs)
        else:
            result = await in_tool_thread(function, **kwargs)
        if inspect.isawaitable(result):  # a sync function that returned a coroutine
            result = await result
        return result


def _check_given_schema(name: str, schema: dict[str, Any], args: Any) -> dict[str, Any]:
    """The light check of arguments for a tool whose schema came from elsewhere: an object
    with the required keys and, if the schema says so, no others."""
    if not isinstance(args, dict):
        raise ToolArgumentsError(f"Invalid arguments for tool {name!r}: expected an object")
    problems = [f"{key}: Field required" for key in schema.get("required", []) if key not in args]
    if schema.get("additionalProperties") is False:
        known = schema.get("properties", {})
        problems += [f"{key}: Extra inputs are not permitted" for key in args if key not in known]
    if problems:
        raise ToolArgumentsError(f"Invalid arguments for tool {name!r}: " + "; ".join(problems))
    return args


def _first_param_is_context(function: Callable[..., Any]) -> bool:
    params = list(inspect.signature(function).parameters.values())
    if not params:
        return False
    annotation = params[0].annotation
    if isinstance(annotation, str):
        return annotation.split(".")[-1] == "RunContext"
    return annotation is RunContext


@overload
def tool(function: F, /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    approval: ApprovalSpec = None,
    timeout: float | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    approval: ApprovalSpec = None,
    timeout: float | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a function a tool: ``@tool`` or ``@tool(approval="required", timeout=30)``.

    ``approval`` is ``None`` (runs automatically), ``"required"`` (any authorised person
    approves), a role name such as ``"admin"``, an ``Approval(...)``, or a callable that
    gets the ``ToolCall`` and returns one of those. ``timeout`` (seconds) bounds each call;
    None takes the agent's ``tool_timeout``. A call that runs over goes back to the model
    as a tool error; an async tool is cancelled, a sync one abandoned in its thread.
    """

    def wrap(fn: Callable[..., Any]) -> Tool:
        return Tool(fn, name=name, description=description, approval=approval, timeout=timeout)

    return wrap(function) if function is not None else wrap


_plain_tools: weakref.WeakKeyDictionary[Callable[..., Any], Tool] = weakref.WeakKeyDictionary()


def as_tool(obj: Tool | Callable[..., Any]) -> Tool:
    """A ``Tool`` for a tool or a plain function.

    The Tool of a plain function is made once and shared, so an agent built per run (a
    re-run cell, an agent per request) does not rebuild its schema and validator.
    """
    if isinstance(obj, Tool):
        return obj
    try:
        return _plain_tools[obj]
    except (KeyError, TypeError):  # TypeError: not weak-referenceable
        made = Tool(obj)
        with contextlib.suppress(TypeError):
            _plain_tools[obj] = made
        return made
